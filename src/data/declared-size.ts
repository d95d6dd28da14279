// The size a GIF, WebP or BMP header declares, read from the file's first bytes, so the intake's precheck can
// refuse an image over the megapixel limit before the browser decodes it (as it does for PNG and JPEG with
// their own header readers in preprocess.ts). Undefined when the header is too short or not understood: the
// decoder then says what is wrong.
//
//   GIF   "GIF87a"/"GIF89a", the logical screen: width and height as u16 LE at bytes 6 and 8
//   BMP   "BM", the DIB header's size at 14; a 12-byte core header has u16 width/height at 18/20, every later
//         header i32 width/height at 18/22 (a negative height is a top-down image)
//   WebP  "RIFF"…"WEBP", then the first chunk at 12: "VP8X" (canvas width−1 and height−1, u24 LE at 24 and
//         27), "VP8 " (key frame start code 9d 01 2a at 23, 14-bit width and height at 26 and 28) or "VP8L"
//         (signature 0x2f at 20, then 14-bit width−1 and height−1 packed LSB first)

export interface DeclaredSize {
  width: number;
  height: number;
}

export function declaredSize(kind: string, head: Uint8Array): DeclaredSize | undefined {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const ascii = (at: number, n: number): string => String.fromCharCode(...head.subarray(at, at + n));
  if (kind === 'gif') return head.length >= 10 ? { width: view.getUint16(6, true), height: view.getUint16(8, true) } : undefined;
  if (kind === 'bmp') {
    if (head.length < 26) return undefined;
    if (view.getUint32(14, true) === 12) return { width: view.getUint16(18, true), height: view.getUint16(20, true) };
    return { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) };
  }
  if (kind === 'webp') {
    if (head.length < 30) return undefined;
    const chunk = ascii(12, 4);
    if (chunk === 'VP8X') return { width: 1 + (head[24]! | (head[25]! << 8) | (head[26]! << 16)), height: 1 + (head[27]! | (head[28]! << 8) | (head[29]! << 16)) };
    if (chunk === 'VP8 ' && head[23] === 0x9d && head[24] === 0x01 && head[25] === 0x2a) return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
    if (chunk === 'VP8L' && head[20] === 0x2f) {
      const bits = view.getUint32(21, true);
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
    }
  }
  return undefined;
}
