// Styles every component shares: type, buttons, fields, focus rings, panels. Components add their own.
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
    gap: 0.35rem;
    align-items: center;
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
`;
