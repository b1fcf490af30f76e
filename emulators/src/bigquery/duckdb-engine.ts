import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { invalid } from './errors.ts';
import { quoteIdentifier } from './schema.ts';

// One in-memory DuckDB database holds every project: each project is an attached in-memory catalog named after the
// project id, each dataset a schema inside it. So `proj.ds.t` (after the backtick rewrite) resolves exactly as in
// BigQuery, and `ds.t` resolves through `USE "proj"`.
//
// All work goes through one connection, one operation at a time (`exclusive`). That makes every job atomic with
// respect to every other request (a load validates, deletes and appends inside one transaction while nothing else
// runs), and keeps the per-job `USE` of the default project/dataset from leaking between jobs.

// DuckDB reserves these catalog names for itself.
const RESERVED_CATALOGS = new Set(['memory', 'system', 'temp', 'main']);

export class DuckDbEngine {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly attachedProjects = new Set<string>();

  private constructor(
    /** Held so the database lives exactly as long as the engine (see close). */
    readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async create(): Promise<DuckDbEngine> {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    // TIMESTAMP columns are TIMESTAMPTZ; UTC makes casts to DATE and text rendering match BigQuery.
    await connection.run(`SET TimeZone = 'UTC'`);
    // One thread: an emulator's tables are small, jobs run one at a time anyway, and DuckDB's own worker threads
    // (one per core by default) only compete with the clients under test for the CPU.
    await connection.run('SET threads = 1');
    return new DuckDbEngine(instance, connection);
  }

  /** Runs `work` with the connection once every earlier operation has finished. */
  exclusive<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const result = this.tail.then(() => work(this.connection));
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Attaches the project's catalog on first use. Call inside `exclusive`. */
  async ensureProject(connection: DuckDBConnection, projectId: string): Promise<void> {
    if (this.attachedProjects.has(projectId)) return;
    if (RESERVED_CATALOGS.has(projectId.toLowerCase())) {
      throw invalid(`The emulator cannot host a project named "${projectId}" (reserved by DuckDB)`);
    }
    await connection.run(`ATTACH IF NOT EXISTS ':memory:' AS ${quoteIdentifier(projectId)}`);
    this.attachedProjects.add(projectId);
  }

  /**
   * Lets the database go. Closing the DuckDB instance by hand while result objects of earlier jobs still wait for
   * the garbage collector made the process crash now and then (a native finalizer on a closed database); released
   * references are freed by the collector in the right order instead.
   */
  close(): void {
    this.attachedProjects.clear();
  }
}

/** Runs `work` inside a transaction: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(connection: DuckDBConnection, work: () => Promise<T>): Promise<T> {
  await connection.run('BEGIN TRANSACTION');
  try {
    const result = await work();
    await connection.run('COMMIT');
    return result;
  } catch (error) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export function qualifiedTableName(projectId: string, datasetId: string, tableId: string): string {
  return `${quoteIdentifier(projectId)}.${quoteIdentifier(datasetId)}.${quoteIdentifier(tableId)}`;
}

export function qualifiedSchemaName(projectId: string, datasetId: string): string {
  return `${quoteIdentifier(projectId)}.${quoteIdentifier(datasetId)}`;
}

/** SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
