// What the client knows, shared by its parts: me, people's names and presence.

export const state = {
  /** GET /api/v1/me */
  me: null,
  /** SIP URI (lower case) → presence as the server sent it. */
  presence: new Map(),
  /** SIP URI (lower case) → display name, from contacts, searches and the directory. */
  names: new Map(),
};

/** A URI as a map key. */
export const key = (uri) => String(uri || '').toLowerCase();

/** A person's name if known, else the URI without `sip:`. */
export function nameOf(uri) {
  return state.names.get(key(uri)) || String(uri || '').replace(/^sips?:/, '');
}

/** Remembers a person's name. */
export function rememberName(uri, name) {
  if (uri && name) state.names.set(key(uri), name);
}
