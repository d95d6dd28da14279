// Styles every component shares: type, buttons, fields, focus rings, panels, and touch-sized targets on
// touch screens. Components add their own.
import { css } from 'lit';

export const baseStyles = css`
  :host {
    display: block;
    font-family: system-ui, -apple-system, 'Segoe UI', sans-serif;
    color: #1d2430;
    line-height: 1.4;
  }
  h2 {
    font-size: 1.15rem;
    margin: 0 0 0.5rem;
  }
  h3 {
    font-size: 1rem;
    margin: 0.75rem 0 0.4rem;
  }
  p {
    margin: 0.35rem 0;
  }
  button,
  .button {
    font: inherit;
    font-size: 0.95rem;
    padding: 0.35rem 0.8rem;
    border-radius: 6px;
    border: 1px solid #8a97ab;
    background: #f4f6f9;
    color: #1d2430;
    cursor: pointer;
  }
  button.primary {
    background: #1f5fbf;
    border-color: #1f5fbf;
    color: #fff;
  }
  button:hover:not(:disabled) {
    filter: brightness(0.95);
  }
  button:disabled {
    opacity: 0.5;
    cursor: default;
  }
  button:focus-visible,
  input:focus-visible,
  select:focus-visible,
  summary:focus-visible,
  .dropzone:focus-visible,
  [tabindex]:focus-visible {
    outline: 3px solid #f0a500;
    outline-offset: 2px;
  }
  input,
  select {
    font: inherit;
    font-size: 0.95rem;
    padding: 0.2rem 0.35rem;
    border: 1px solid #8a97ab;
    border-radius: 4px;
    background: #fff;
  }
  input[type='number'] {
    width: 6.5rem;
  }
  label {
    display: inline-flex;
    flex-wrap: wrap;
    max-width: 100%;
    gap: 0.35rem;
    align-items: center;
  }
  /* A box and its words stay side by side; the words wrap. */
  label:has(> input[type='checkbox']),
  label:has(> input[type='radio']) {
    flex-wrap: nowrap;
  }
  /* Nothing wider than a phone's screen: fields shrink, long names and addresses break. */
  input,
  select {
    max-width: 100%;
  }
  p,
  li,
  strong,
  code,
  h3 {
    overflow-wrap: anywhere;
  }
  .row {
    display: flex;
    flex-wrap: wrap;
    gap: 0.5rem 1rem;
    align-items: center;
  }
  .muted {
    color: #4a5566;
    font-size: 0.9rem;
  }
  .alert {
    padding: 0.5rem 0.75rem;
    border-radius: 6px;
    background: #fdecec;
    color: #8a1c1c;
  }
  .note {
    padding: 0.5rem 0.75rem;
    border-radius: 6px;
    background: #eef3f8;
  }
  .bar {
    height: 0.6rem;
    border-radius: 4px;
    background: #dde3ec;
    overflow: hidden;
  }
  .bar > span {
    display: block;
    height: 100%;
    background: #1f5fbf;
  }
  .dropzone {
    border: 2px dashed #8a97ab;
    border-radius: 8px;
    padding: 0.75rem;
    text-align: center;
    color: #4a5566;
  }
  .dropzone.over {
    border-color: #1f5fbf;
    background: #eef3fb;
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
  /* Fingers need bigger targets than a mouse: every control at least 44 × 44 CSS pixels on touch screens. */
  @media (pointer: coarse) {
    button,
    .button,
    select,
    summary,
    input:not([type='checkbox']):not([type='radio']) {
      min-height: 44px;
      min-width: 44px;
    }
    summary {
      display: flex;
      align-items: center;
    }
    input[type='checkbox'],
    input[type='radio'] {
      width: 1.5rem;
      height: 1.5rem;
      margin: 0;
    }
    label:has(> input[type='checkbox']),
    label:has(> input[type='radio']) {
      min-height: 44px;
      min-width: 44px;
    }
  }
`;
