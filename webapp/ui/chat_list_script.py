"""The conversation list's script (`chat_list.py` has its data and template): keys, the per-chat menu.

It only ever sets text (`textContent`), never markup, and reports what the person did as the
list's events, each with the conversation's id: `open`, `rename` (with `title`), `pin` (with
`pinned`), `delete`, and `restore` (with `open`: whether it was the open chat) from the undo bar.
"""

from __future__ import annotations

# Keys on a chat: arrows and Home/End move, Enter opens, F2 renames (Enter keeps, Escape drops),
# Delete deletes, Shift+F10 or the menu key opens its menu. In the menu: arrows move, Enter picks,
# Escape or Tab close it and give the focus back to the chat. On a narrow screen, opening a chat
# closes the sidebar over it.
SCRIPT = """
const items = () => [...element.querySelectorAll('.chat-item')];
const words = () => (props.value && props.value.words) || {};
const itemOf = (node) => node && node.closest ? node.closest('.chat-item') : null;
const focusItem = (item) => {
  if (!item || !item.isConnected) return;
  items().forEach((other) => other.setAttribute('tabindex', other === item ? '0' : '-1'));
  item.focus();
};
const closeOnPhone = () => {
  if (!window.matchMedia('(max-width: 767px)').matches) return;
  const toggle = document.querySelector('.sidebar.open .toggle-button');
  if (toggle) toggle.click();
};
const open = (item, closeSidebar = true) => {
  items().forEach((other) => {
    other.classList.toggle('current', other === item);
    other.setAttribute('aria-selected', other === item ? 'true' : 'false');
  });
  trigger('open', {id: item.dataset.id});
  if (closeSidebar) closeOnPhone();
};
// Share: the chat opens (the sidebar stays, on a phone too) with the share panel open beside it, its
// Share button focused: the expiry is chosen there, and the link and one's links are shown there.
const share = (item) => {
  if (!item.classList.contains('current')) open(item, false);
  const panel = document.querySelector('#share-panel');
  const toggle = panel && panel.querySelector('button');
  if (toggle && !panel.querySelector('#share')?.checkVisibility?.()) toggle.click();
  let tries = 0;
  const focusShare = () => {
    const button = document.querySelector('#share');
    if (button && button.checkVisibility()) {
      button.scrollIntoView({block: 'nearest'});
      button.focus();
    } else if (tries++ < 40) {
      setTimeout(focusShare, 50);
    }
  };
  focusShare();
};
const rename = (item) => {
  const title = item.querySelector('.chat-title');
  const input = document.createElement('input');
  input.className = 'chat-rename-input';
  input.value = title.textContent;
  input.setAttribute('aria-label', words().rename || 'Rename');
  let done = false;
  const finish = (keep) => {
    if (done) return;
    done = true;
    const text = input.value.trim();
    input.replaceWith(title);
    if (keep && text && text !== title.textContent) {
      title.textContent = text;
      trigger('rename', {id: item.dataset.id, title: text});
    }
    focusItem(item);
  };
  input.addEventListener('keydown', (event) => {
    event.stopPropagation();
    if (event.key === 'Enter') { event.preventDefault(); finish(true); }
    if (event.key === 'Escape') { event.preventDefault(); finish(false); }
  });
  input.addEventListener('blur', () => finish(true));
  input.addEventListener('click', (event) => event.stopPropagation());
  title.replaceWith(input);
  input.focus();
  input.select();
};
const remove = (item) => trigger('delete', {id: item.dataset.id});
// Once the server has deleted a chat (the list comes back with `deleted`), a bar offers to bring it
// back, with the focus on its Undo, until a second before the server deletes it for good.
let undoBar = null;
const closeUndo = () => {
  if (!undoBar) return;
  const bar = undoBar;
  undoBar = null;
  clearTimeout(bar.timer);
  const hadFocus = bar.node.contains(document.activeElement);
  bar.node.remove();
  if (hadFocus) focusItem(element.querySelector('.chat-item[tabindex="0"]'));
};
const offerUndo = (deleted) => {
  closeUndo();
  const node = document.createElement('div');
  node.className = 'chat-undo';
  node.setAttribute('role', 'status');
  const text = document.createElement('span');
  text.textContent = (words().deleted || 'Deleted “{title}”').replace('{title}', deleted.title);
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'chat-undo-button';
  button.textContent = words().undo || 'Undo';
  button.addEventListener('click', () => {
    closeUndo();
    trigger('restore', {id: deleted.id, open: deleted.open});
  });
  node.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeUndo(); });
  node.append(text, button);
  document.body.append(node);
  undoBar = {node, timer: setTimeout(closeUndo, (props.value && props.value.undo_ms) || 9000)};
  button.focus();
};
watch('value', () => {
  const deleted = props.value && props.value.deleted;
  if (deleted && (!undoBar || undoBar.id !== deleted.id)) {
    offerUndo(deleted);
    undoBar.id = deleted.id;
  }
});
const pin = (item) => trigger('pin', {id: item.dataset.id, pinned: item.dataset.pinned !== 'true'});
const ACTIONS = {pin, rename, share, delete: remove};
let menu = null;
const closeMenu = (focusBack) => {
  if (!menu) return;
  const shown = menu;
  menu = null;
  shown.node.remove();
  if (focusBack) focusItem(shown.item);
};
const menuEntries = (item) => {
  const id = encodeURIComponent(item.dataset.id);
  const w = words();
  return [
    ['pin', item.dataset.pinned === 'true' ? w.unpin : w.pin],
    ['rename', w.rename],
    ['share', w.share],
    ['export', w.export, `/api/conversations/${id}/export?format=md`],
    ['export-json', w.export_json, `/api/conversations/${id}/export?format=json`],
    ['delete', w.delete],
  ];
};
const placeMenu = (node, anchor) => {
  const box = anchor.getBoundingClientRect();
  const room = window.innerHeight - box.bottom;
  const top = room >= node.offsetHeight + 8 ? box.bottom + 4 : Math.max(8, box.top - node.offsetHeight - 4);
  node.style.top = `${top}px`;
  const left = Math.min(box.right - node.offsetWidth, window.innerWidth - node.offsetWidth - 8);
  node.style.left = `${Math.max(8, left)}px`;
};
const openMenu = (item, anchor) => {
  closeMenu(false);
  const node = document.createElement('div');
  node.className = 'chat-menu';
  node.setAttribute('role', 'menu');
  node.setAttribute('aria-label', words().menu || 'More actions');
  for (const [action, label, href] of menuEntries(item)) {
    const entry = document.createElement(href ? 'a' : 'button');
    entry.className = `chat-${action}`;
    entry.setAttribute('role', 'menuitem');
    entry.tabIndex = -1;
    entry.textContent = label;
    if (href) {
      entry.href = href;
      entry.setAttribute('download', '');
    } else {
      entry.type = 'button';
    }
    entry.addEventListener('click', (event) => {
      event.stopPropagation();
      closeMenu(action !== 'rename');
      if (!href) ACTIONS[action](item);
    });
    node.append(entry);
  }
  node.addEventListener('keydown', (event) => {
    const all = [...node.querySelectorAll('[role=menuitem]')];
    const at = all.indexOf(document.activeElement);
    const moves = {ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: all.length - 1};
    if (event.key in moves) {
      event.preventDefault();
      all[(moves[event.key] + all.length) % all.length].focus();
    } else if (event.key === 'Escape' || event.key === 'Tab') {
      event.preventDefault();
      closeMenu(true);
    } else if (event.key === ' ') {
      event.preventDefault();
      document.activeElement.click();
    }
  });
  document.body.append(node);
  placeMenu(node, anchor);
  menu = {node, item};
  node.querySelector('[role=menuitem]').focus();
};
document.addEventListener('pointerdown', (event) => {
  if (menu && !menu.node.contains(event.target) && !event.target.closest?.('.chat-more')) closeMenu(false);
}, true);
window.addEventListener('resize', () => closeMenu(false));
element.addEventListener('click', (event) => {
  const item = itemOf(event.target);
  if (!item || event.target.closest('.chat-rename-input')) return;
  event.preventDefault();
  const more = event.target.closest('.chat-more');
  if (more) {
    event.stopPropagation();
    if (menu && menu.item === item) return closeMenu(true);
    return openMenu(item, more);
  }
  open(item);
});
element.addEventListener('keydown', (event) => {
  const item = itemOf(event.target);
  if (!item || event.target !== item) return;
  const all = items();
  const at = all.indexOf(item);
  const moves = {ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: all.length - 1};
  if (event.key in moves) {
    event.preventDefault();
    focusItem(all[Math.max(0, Math.min(all.length - 1, moves[event.key]))]);
  } else if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    open(item);
  } else if (event.key === 'F2') {
    event.preventDefault();
    rename(item);
  } else if (event.key === 'Delete') {
    event.preventDefault();
    remove(item);
  } else if (event.key === 'ContextMenu' || (event.key === 'F10' && event.shiftKey)) {
    event.preventDefault();
    openMenu(item, item.querySelector('.chat-more'));
  }
});
"""
