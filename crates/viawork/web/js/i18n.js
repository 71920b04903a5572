// Translations. English text is the key: code reads `t('Ringing {peer}…', { peer })`, and
// a language's dictionary maps that English to its own (a missing entry stays English).
// The page's static text (index.html) is translated once at start by translatePage().
// The language is the one chosen in the client (kept in this browser), else the
// browser's own when there is a dictionary for it, else English.

import { RU } from './i18n-ru.js';

/** The languages offered, by code. */
export const LANGUAGES = { en: 'English', ru: 'Русский' };
const DICTIONARIES = { ru: RU };
const KEY = 'viawork.lang';

let lang = detect();

function detect() {
  try {
    const saved = globalThis.localStorage?.getItem(KEY);
    if (saved && saved in LANGUAGES) return saved;
  } catch {
    // Storage may be off: fall back to the browser's language.
  }
  const nav = String(globalThis.navigator?.language ?? 'en').toLowerCase();
  return nav.startsWith('ru') ? 'ru' : 'en';
}

/** The language in use. */
export function language() {
  return lang;
}

/** Uses `code` from now on and remembers it in this browser. */
export function setLanguage(code) {
  lang = code in LANGUAGES ? code : 'en';
  try {
    globalThis.localStorage?.setItem(KEY, lang);
  } catch {
    // Not remembered; still used for this page.
  }
}

/** `text` in the language in use, with `{name}` placeholders filled from `vars`. */
export function t(text, vars = {}) {
  const template = DICTIONARIES[lang]?.[text] ?? text;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Translates the page's static text and its placeholders, labels and titles. */
export function translatePage(root = document.body) {
  document.documentElement.lang = lang;
  const dict = DICTIONARIES[lang];
  if (!dict) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue.trim().replace(/\s+/g, ' ');
    if (text && dict[text]) node.nodeValue = dict[text];
  }
  for (const attr of ['placeholder', 'aria-label', 'title', 'alt']) {
    for (const el of root.querySelectorAll(`[${attr}]`)) {
      const v = el.getAttribute(attr);
      if (dict[v]) el.setAttribute(attr, dict[v]);
    }
  }
  const title = document.title;
  if (dict[title]) document.title = dict[title];
}
