// charts.js owns ECharts: only the charts and components the pages use
// (funnel, Sankey, line, bar; grid, tooltip, legend) on the canvas renderer,
// the dashboard's colours, resizing with the page, and disposal of charts
// whose element left the page.
import { use, init } from 'echarts/core';
import { BarChart, FunnelChart, LineChart, SankeyChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

use([BarChart, FunnelChart, LineChart, SankeyChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

const PALETTE = ['#3b6fd8', '#14a37f', '#f0a32f', '#d9534f', '#8a63d2', '#2bb3c0', '#e27fb0', '#7d8a99', '#a3b937', '#c97a3e'];

const live = new Set();

// disposeCharts frees the charts no longer on the page (all of them with all).
export function disposeCharts(all = false) {
  for (const c of live) {
    if (all || !c.el.isConnected) {
      c.observer.disconnect();
      c.chart.dispose();
      live.delete(c);
    }
  }
}

// chart draws option into el (which has its height from CSS) and returns the
// ECharts instance, for setOption on updates.
export function chart(el, option) {
  disposeCharts();
  const instance = init(el, null, { renderer: 'canvas' });
  instance.setOption({
    color: PALETTE,
    textStyle: { fontFamily: 'system-ui, -apple-system, "Segoe UI", "Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans KR", sans-serif' },
    animationDuration: 300,
    ...option,
  });
  let frame = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => { if (!instance.isDisposed()) instance.resize(); });
  });
  observer.observe(el);
  live.add({ el, chart: instance, observer });
  return instance;
}
