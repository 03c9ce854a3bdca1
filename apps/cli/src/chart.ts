/** TFLOP/s vs seqlen per backend as SVG, drawn by vega-lite + vega (loaded only when a chart is asked for). */

export interface ChartPoint {
  backend: string;
  seqlen: number;
  headDim: number;
  mode: string;
  tflops: number;
}

export async function renderChart(points: readonly ChartPoint[], title: string): Promise<string> {
  const vl = (await import('vega-lite')) as unknown as { compile(spec: unknown): { spec: unknown } };
  const vega = (await import('vega')) as unknown as {
    View: new (runtime: unknown, opts: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void };
    parse(spec: unknown): unknown;
  };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: points.map((p) => ({ ...p, head: `headdim ${p.headDim}` })) },
    facet: {
      row: { field: 'head', type: 'nominal', title: null },
      column: { field: 'mode', type: 'nominal', title: null, sort: ['fwd', 'fwd+bwd'] },
    },
    spec: {
      width: 320,
      height: 200,
      layer: [
        { mark: { type: 'line' } },
        { mark: { type: 'point', filled: true } },
        { mark: { type: 'text', dy: -9, fontSize: 9 }, encoding: { text: { field: 'tflops', type: 'quantitative', format: '.3~r' } } },
      ],
      encoding: {
        x: { field: 'seqlen', type: 'ordinal', title: 'sequence length', axis: { labelAngle: 0 } },
        y: { field: 'tflops', type: 'quantitative', title: 'TFLOP/s' },
        color: { field: 'backend', type: 'nominal', title: 'backend' },
      },
    },
    config: { background: 'white' },
  };
  const compiled = vl.compile(spec);
  const view = new vega.View(vega.parse(compiled.spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
