// Browser notifications for an incoming call or message while the tab is hidden (another
// tab in front, the window minimised), so a person working elsewhere still sees them.
// Permission is asked once, when the person signs in (a click the browser accepts as
// their choice); nothing is shown without it.

/** Asks for permission if the person has not decided yet. */
export function askPermission() {
  if (!('Notification' in window) || Notification.permission !== 'default') return;
  Notification.requestPermission().catch(() => {});
}

/** Shows a notification when the page is hidden and permission was given; `tag` replaces
 * an earlier one with the same tag. Clicking it brings the tab forward. Returns it (to
 * close it early) or null. */
export function notifyIfHidden(title, body, tag) {
  if (document.visibilityState !== 'hidden') return null;
  if (!('Notification' in window) || Notification.permission !== 'granted') return null;
  try {
    const n = new Notification(title, { body, tag });
    n.onclick = () => {
      window.focus();
      n.close();
    };
    return n;
  } catch {
    // Some browsers allow notifications only from a service worker: go without.
    return null;
  }
}
