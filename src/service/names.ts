import { nameSchema } from '../config/datasources';
import { invalidInput } from './problems';

/**
 * Validates a name taken from a URL or a command line. Names end up in workflow ids, file names
 * and SQL identifiers, so quotes, backticks, spaces and SQL fragments are refused with a 400
 * before anything looks them up.
 */
export function parseName(what: string, raw: unknown): string {
  const parsed = nameSchema.safeParse(raw);
  if (!parsed.success)
    throw invalidInput(
      `${what} name`,
      parsed.error.issues.map((i) => ({ ...i, path: ['name'] })),
    );
  return parsed.data;
}
