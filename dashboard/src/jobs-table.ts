/**
 * The running-jobs table. Row contents are computed by pure functions (tested in Node); the
 * DOM part rebuilds the tbody in one `replaceChildren` per update, with at most `maxRows`
 * rows, so a 1 Hz update of a busy cluster stays cheap.
 */
import type { LiveJob } from '@stroom/protocol';
import { formatCount, formatDuration, formatKwh, formatPower } from './format.js';

/** Highest power first; ties by job id so rows do not jump between updates. */
export function sortJobs(jobs: readonly LiveJob[]): LiveJob[] {
  return [...jobs].sort((a, b) => b.powerW - a.powerW || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** "n001, n002 +6": the first `max` node names and how many more. */
export function nodeList(nodes: readonly string[], max = 2): string {
  if (nodes.length <= max) return nodes.join(', ');
  return `${nodes.slice(0, max).join(', ')} +${nodes.length - max}`;
}

export interface Cell {
  text: string;
  /** Full value when `text` is shortened (tooltip). */
  title?: string;
  numeric: boolean;
}

export const COLUMNS = ['Job', 'User', 'Account', 'Nodes', 'GPUs', 'Power now', 'Energy so far', 'Run time'] as const;

/** The cells of one job's row at time `nowMs`. */
export function jobCells(job: LiveJob, nowMs: number): Cell[] {
  const nodes = nodeList(job.nodes);
  const nodesCell: Cell = { text: `${formatCount(job.nodes.length)} · ${nodes}`, numeric: false };
  if (job.nodes.length > 2) nodesCell.title = job.nodes.slice(0, 200).join(', ') + (job.nodes.length > 200 ? ', …' : '');
  return [
    { text: job.id, numeric: false },
    { text: job.user, numeric: false },
    { text: job.account, numeric: false },
    nodesCell,
    { text: formatCount(job.gpus), numeric: true },
    { text: formatPower(job.powerW), numeric: true },
    { text: `${formatKwh(job.energyJ)} kWh`, numeric: true },
    { text: formatDuration(nowMs - job.startTs), numeric: true },
  ];
}

export interface JobsTableOptions {
  maxRows?: number;
  /** Called with a job id when the pointer enters its row, null when it leaves the table. */
  onHover?: (jobId: string | null) => void;
  /** Make each job id a link to its job page. */
  linkJobs?: boolean;
}

export class JobsTable {
  private readonly tbody: HTMLTableSectionElement;
  private readonly caption: HTMLElement | null;
  private readonly maxRows: number;
  private hovered: string | null = null;
  private readonly linkJobs: boolean;

  constructor(table: HTMLTableElement, caption: HTMLElement | null, opts: JobsTableOptions = {}) {
    this.tbody = table.tBodies[0] ?? table.createTBody();
    this.caption = caption;
    this.maxRows = opts.maxRows ?? 200;
    this.linkJobs = opts.linkJobs ?? false;
    const onHover = opts.onHover;
    if (onHover !== undefined) {
      this.tbody.addEventListener('mouseover', (ev) => {
        const row = (ev.target as Element | null)?.closest('tr');
        const id = row?.dataset['job'] ?? null;
        if (id !== this.hovered) {
          this.hovered = id;
          onHover(id);
        }
      });
      this.tbody.addEventListener('mouseleave', () => {
        this.hovered = null;
        onHover(null);
      });
    }
  }

  /** Show `jobs` (highest power first); `total` is how many run when `jobs` is only the top of them. */
  update(jobs: readonly LiveJob[], nowMs: number, total = jobs.length): void {
    const sorted = sortJobs(jobs);
    const shown = sorted.slice(0, this.maxRows);
    const frag = document.createDocumentFragment();
    for (const job of shown) {
      const tr = document.createElement('tr');
      tr.dataset['job'] = job.id;
      for (const [i, cell] of jobCells(job, nowMs).entries()) {
        const td = document.createElement('td');
        if (i === 0 && this.linkJobs) {
          const a = document.createElement('a');
          a.href = `#/job/${encodeURIComponent(job.id)}`;
          a.textContent = cell.text;
          td.append(a);
        } else {
          td.textContent = cell.text;
        }
        if (cell.numeric) td.className = 'num';
        if (cell.title !== undefined) td.title = cell.title;
        tr.append(td);
      }
      frag.append(tr);
    }
    if (shown.length === 0) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = COLUMNS.length;
      td.className = 'empty';
      td.textContent = 'No jobs running.';
      tr.append(td);
      frag.append(tr);
    }
    this.tbody.replaceChildren(frag);
    if (this.caption !== null) {
      this.caption.textContent =
        Math.max(total, sorted.length) > shown.length
          ? `Top ${formatCount(shown.length)} of ${formatCount(Math.max(total, sorted.length))} by power`
          : `${formatCount(sorted.length)} running, by power`;
    }
  }
}
