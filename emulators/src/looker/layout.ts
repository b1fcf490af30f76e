import type { Catalog } from './catalog.ts';
import { hash32, Stream } from './random.ts';

// The components of dashboard layouts: in real System Activity the `dashboard` explore's base view is
// dashboard_layout_component, so a dashboard is as many rows as it has tiles, and components whose dashboard is
// gone (or never was a user-defined one) are rows with a null `dashboard.id`. One component per tile query, plus
// an orphan now and then; ids follow the dashboards.

export interface LayoutComponentRecord {
  id: number;
  /** The dashboard it belongs to; null for an orphan. */
  dashboardId: number | null;
  dashboardLayoutId: number;
  /** Index of the tile's query in the dashboard, or -1 for an orphan. */
  tile: number;
  type: 'vis' | 'text';
  row: number;
  column: number;
  width: number;
  height: number;
}

/** Share of dashboards followed by an orphan component (left behind by a deleted layout). */
const ORPHAN_SHARE = 0.05;

export class LayoutComponents {
  /** Per component: its dashboard id (0 for an orphan) and tile position. */
  private dashboards: Int32Array | undefined;
  private tiles: Int32Array | undefined;

  constructor(
    private readonly seed: number,
    private readonly catalog: Catalog,
  ) {}

  private build() {
    if (this.dashboards && this.tiles) return { dashboards: this.dashboards, tiles: this.tiles };
    const dashboards: number[] = [];
    const tiles: number[] = [];
    for (let d = 1; d <= this.catalog.sizes.dashboards; d++) {
      const count = this.catalog.dashboard(d)?.queryIds.length ?? 0;
      for (let t = 0; t < count; t++) {
        dashboards.push(d);
        tiles.push(t);
      }
      // Dashboard 2 always is, so that even a small instance has one.
      if (hash32(this.seed, Stream.layout, d, 1) / 0x100000000 < ORPHAN_SHARE || d === 2) {
        dashboards.push(0);
        tiles.push(-1);
      }
    }
    this.dashboards = Int32Array.from(dashboards);
    this.tiles = Int32Array.from(tiles);
    return { dashboards: this.dashboards, tiles: this.tiles };
  }

  get size(): number {
    return this.build().dashboards.length;
  }

  component(index: number): LayoutComponentRecord | null {
    const { dashboards, tiles } = this.build();
    if (index < 0 || index >= dashboards.length) return null;
    const dashboard = dashboards[index] as number;
    const tile = tiles[index] as number;
    const draw = hash32(this.seed, Stream.layout, index, 2);
    return {
      id: index + 1,
      dashboardId: dashboard === 0 ? null : dashboard,
      dashboardLayoutId: dashboard === 0 ? 900_000 + index : dashboard,
      tile,
      type: tile < 0 || draw % 9 === 0 ? 'text' : 'vis',
      row: Math.max(0, tile) * 6,
      column: (draw >>> 4) % 2 === 0 ? 0 : 12,
      width: (draw >>> 5) % 2 === 0 ? 12 : 24,
      height: 6,
    };
  }
}
