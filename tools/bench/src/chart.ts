/** A horizontal bar chart of lfmkit ÷ llama.cpp ratios as SVG, with the parity line at 1.0. */
export function renderChart(ratios: Record<string, number>): string {
  const entries = Object.entries(ratios);
  const rowHeight = 26;
  const left = 170;
  const width = 640;
  const scaleMax = Math.max(2, ...entries.map(([, v]) => v));
  const x = (v: number) => left + ((width - left - 40) * v) / scaleMax;
  const bars = entries
    .map(([name, value], i) => {
      const y = 30 + i * rowHeight;
      const color = value >= 1 ? "#2e7d32" : "#c62828";
      return `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12">${name}</text><rect x="${left}" y="${y}" width="${x(value) - left}" height="${rowHeight - 8}" fill="${color}"/><text x="${x(value) + 4}" y="${y + 14}" font-size="12">${value.toFixed(2)}</text>`;
    })
    .join("");
  const height = 40 + entries.length * rowHeight;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="${left}" y="18" font-size="13">lfmkit ÷ llama.cpp (higher is better)</text>${bars}<line x1="${x(1)}" y1="24" x2="${x(1)}" y2="${height - 6}" stroke="#333" stroke-dasharray="4 3"/></svg>\n`;
}
