// Writes the app's icons (public/icons/icon-192.png, icon-512.png) for the web app manifest: a dark blue
// square, full bleed so it also serves as a maskable icon, with a 3×3 grid of small cores (CLoRA's r×r
// cores) inside the central safe zone. `npm run make:icons`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';

const BACKGROUND = [0x1f, 0x3a, 0x68];
const CORES = [
  [0xf2, 0xb1, 0x34],
  [0x8f, 0xd3, 0xfe],
  [0xff, 0xff, 0xff],
];

function icon(size: number): Buffer {
  const png = new PNG({ width: size, height: size });
  // The maskable safe zone is the central 80 %; the grid keeps to the central 50 %.
  const grid = size * 0.5;
  const origin = (size - grid) / 2;
  const cell = grid / 3;
  const gap = cell * 0.18;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let color = BACKGROUND;
      const gx = x - origin;
      const gy = y - origin;
      if (gx >= 0 && gy >= 0 && gx < grid && gy < grid) {
        const col = Math.floor(gx / cell);
        const row = Math.floor(gy / cell);
        const inside = gx - col * cell >= gap / 2 && gx - col * cell < cell - gap / 2 && gy - row * cell >= gap / 2 && gy - row * cell < cell - gap / 2;
        if (inside) color = CORES[(row + col) % CORES.length]!;
      }
      const i = (y * size + x) * 4;
      png.data[i] = color[0]!;
      png.data[i + 1] = color[1]!;
      png.data[i + 2] = color[2]!;
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

mkdirSync('public/icons', { recursive: true });
for (const size of [192, 512]) {
  writeFileSync(`public/icons/icon-${size}.png`, icon(size));
  process.stdout.write(`wrote public/icons/icon-${size}.png\n`);
}
