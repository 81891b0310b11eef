/**
 * Light and dark: the page follows the system (prefers-color-scheme) until the user picks one
 * with the header toggle; the choice is kept in localStorage and set as `data-theme` on <html>.
 * Charts and the grid read colours from CSS and listen for `stroom-theme` to redraw.
 */
export type ThemeChoice = 'auto' | 'light' | 'dark';
const KEY = 'stroom.theme';
const ORDER: readonly ThemeChoice[] = ['auto', 'light', 'dark'];
/** Fired on window after the theme changed. */
export const THEME_EVENT = 'stroom-theme';

export function nextTheme(t: ThemeChoice): ThemeChoice {
  return ORDER[(ORDER.indexOf(t) + 1) % ORDER.length] as ThemeChoice;
}

export function themeLabel(t: ThemeChoice): string {
  return t === 'auto' ? 'Theme: system' : t === 'light' ? 'Theme: light' : 'Theme: dark';
}

function stored(): ThemeChoice {
  try {
    const t = localStorage.getItem(KEY);
    return t === 'light' || t === 'dark' ? t : 'auto';
  } catch {
    return 'auto';
  }
}

function apply(t: ThemeChoice): void {
  if (t === 'auto') delete document.documentElement.dataset['theme'];
  else document.documentElement.dataset['theme'] = t;
  window.dispatchEvent(new Event(THEME_EVENT));
}

/** Apply the stored choice and wire the toggle button. */
export function initTheme(button: HTMLButtonElement): void {
  let t = stored();
  apply(t);
  const label = (): void => {
    button.textContent = themeLabel(t);
    button.setAttribute('aria-label', `${themeLabel(t)}; press to change`);
  };
  label();
  button.addEventListener('click', () => {
    t = nextTheme(t);
    try {
      localStorage.setItem(KEY, t);
    } catch {
      // not kept: fine for this tab
    }
    apply(t);
    label();
  });
}
