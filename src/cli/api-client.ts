import { stackSettingsFromEnv } from '../config/stack';
import { cliToken } from '../service/api-tokens';
import type { ProblemDetails } from '../service/problems';

/** An error response of the API, with its problem details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: ProblemDetails,
  ) {
    super(problem.detail || problem.title);
    this.name = 'ApiError';
  }
}

/** The API could not be reached at all. */
export class ApiUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    const code = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).message;
    super(
      `cannot reach the API at ${url} (${code}); is it running? (\`otterflow dev up\` or \`otterflow api\`)`,
    );
    this.name = 'ApiUnreachableError';
  }
}

/**
 * A small typed HTTP client for the Otterflow API: what the CLI (and the tests) use. Paths are
 * built from validated-looking names but the server validates them again.
 */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl.replace(/\/$/, '')}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new ApiUnreachableError(this.baseUrl, err);
    }
    const text = await res.text();
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const problem = (json as ProblemDetails | undefined) ?? {
        type: 'about:blank',
        title: res.statusText,
        status: res.status,
        detail: `HTTP ${res.status} ${res.statusText}`,
      };
      throw new ApiError(res.status, problem);
    }
    return json as T;
  }

  private static seg(name: string): string {
    return encodeURIComponent(name);
  }

  listDatasources = () => this.request<unknown[]>('GET', '/v1/datasources');
  getDatasource = (name: string) => this.request<unknown>('GET', `/v1/datasources/${ApiClient.seg(name)}`);
  createDatasource = (def: unknown) => this.request<unknown>('POST', '/v1/datasources', def);
  updateDatasource = (name: string, def: unknown) =>
    this.request<unknown>('PUT', `/v1/datasources/${ApiClient.seg(name)}`, def);
  removeDatasource = (name: string) => this.request<void>('DELETE', `/v1/datasources/${ApiClient.seg(name)}`);
  testDatasource = (name: string) =>
    this.request<{ serverVersion: string; elapsedMs: number }>(
      'POST',
      `/v1/datasources/${ApiClient.seg(name)}/test`,
    );
  checkDatasource = (name: string) =>
    this.request<{
      ready: boolean;
      serverVersion: string;
      checks: Array<{ name: string; ok: boolean; actual: string; fix?: string }>;
    }>('POST', `/v1/datasources/${ApiClient.seg(name)}/check`);

  listPipelines = () => this.request<unknown[]>('GET', '/v1/pipelines');
  getPipeline = (name: string) => this.request<unknown>('GET', `/v1/pipelines/${ApiClient.seg(name)}`);
  createPipeline = (config: unknown) => this.request<unknown>('POST', '/v1/pipelines', config);
  updatePipeline = (name: string, config: unknown) =>
    this.request<unknown>('PUT', `/v1/pipelines/${ApiClient.seg(name)}`, config);
  deletePipeline = (name: string, force = false, dropCheckpoint = false) => {
    const query = [force ? 'force=true' : '', dropCheckpoint ? 'dropCheckpoint=true' : '']
      .filter(Boolean)
      .join('&');
    return this.request<unknown>('DELETE', `/v1/pipelines/${ApiClient.seg(name)}${query ? `?${query}` : ''}`);
  };
  pipelineAction = (name: string, action: 'start' | 'pause' | 'resume' | 'stop') =>
    this.request<unknown>('POST', `/v1/pipelines/${ApiClient.seg(name)}/${action}`);
  pipelineStatus = (name: string) =>
    this.request<unknown>('GET', `/v1/pipelines/${ApiClient.seg(name)}/status`);
}

/**
 * The client the CLI uses: OTTERFLOW_API_URL (default: the local stack's API port) and
 * OTTERFLOW_TOKEN (default: the admin token of the dev tokens file under OTTERFLOW_HOME).
 */
export function apiClientFromEnv(env: NodeJS.ProcessEnv = process.env): ApiClient {
  const s = stackSettingsFromEnv(env);
  const url = env.OTTERFLOW_API_URL ?? `http://${s.host}:${s.apiPort}`;
  return new ApiClient(url, cliToken(s.home, env));
}
