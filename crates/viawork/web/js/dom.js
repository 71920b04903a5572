// Small DOM helpers. Text goes in with textContent only: nothing from the server or
// another user is ever parsed as HTML.

/** The element with `id`. */
export const $ = (id) => document.getElementById(id);

/** Shows or hides an element (the `hidden` attribute). */
export function show(el, visible) {
  el.hidden = !visible;
}

/** Shows `text` in an error element, or hides it when `text` is empty. */
export function setError(el, text) {
  el.textContent = text || '';
  el.hidden = !text;
}

/** A new element with a class and text. */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A person row (from the template) for `name`, `sub` and a presence dot class. */
export function personRow(name, sub, dotClass, onClick) {
  const tpl = document.getElementById('person-tpl');
  const li = tpl.content.firstElementChild.cloneNode(true);
  li.querySelector('.person-name').textContent = name;
  li.querySelector('.person-sub').textContent = sub;
  li.querySelector('.dot').className = `dot ${dotClass}`;
  li.querySelector('button').addEventListener('click', onClick);
  return li;
}
