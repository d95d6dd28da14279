// Inline styles through the CSSOM only. The built site's Content-Security-Policy (src/app/site-policy.ts)
// refuses style attributes, and Lit's styleMap writes the attribute on its first render, so bars, cells and
// canvases that size themselves from state set their properties here instead: `style=${styleProperties({ width: '40%' })}`.
import { noChange } from 'lit';
import { Directive, directive, PartType, type AttributePart, type PartInfo } from 'lit/directive.js';

type Properties = Readonly<Record<string, string | undefined>>;

class StyleProperties extends Directive {
  private names = new Set<string>();

  constructor(info: PartInfo) {
    super(info);
    if (info.type !== PartType.ATTRIBUTE || info.name !== 'style') throw new Error('styleProperties() belongs in a style attribute binding.');
  }

  render(_properties: Properties): typeof noChange {
    return noChange;
  }

  override update(part: AttributePart, [properties]: [Properties]): typeof noChange {
    const style = (part.element as HTMLElement).style;
    for (const name of this.names) if (properties[name] === undefined) style.removeProperty(name);
    this.names = new Set(Object.keys(properties).filter((name) => properties[name] !== undefined));
    for (const name of this.names) style.setProperty(name, properties[name]!);
    return noChange;
  }
}

export const styleProperties = directive(StyleProperties);
