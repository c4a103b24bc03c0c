// The option types every command shares. Values are checked by commander while it parses, before any work starts,
// so a bad value ends the command with one line naming the option and what it accepts (cli.ts prints it in the
// usual `guardian: … [INVALID_ARGUMENT]` form and exits 2). The accepted range also shows in --help.
import { InvalidArgumentError, Option } from 'commander';

interface NumberSpec {
  min: number;
  max: number;
  integer?: boolean;
  unit?: string;
}

function rangeText({ min, max, integer, unit }: NumberSpec): string {
  return `${integer ? 'a whole number' : 'a number'} from ${min} to ${max}${unit ? ` ${unit}` : ''}`;
}

export function parseNumber(spec: NumberSpec): (value: string) => number {
  return (value) => {
    const n = Number(value);
    const ok = value.trim() !== '' && Number.isFinite(n) && n >= spec.min && n <= spec.max;
    if (!ok || (spec.integer && !Number.isInteger(n))) throw new InvalidArgumentError(`Expected ${rangeText(spec)}`);
    return n;
  };
}

/** A numeric option such as `--fps <n>`; its range appears in --help and in the error for a bad value. */
export function numberOption(flags: string, description: string, spec: NumberSpec, defaultValue?: number): Option {
  const o = new Option(flags, `${description}; ${rangeText(spec)}`).argParser(parseNumber(spec));
  return defaultValue === undefined ? o : o.default(defaultValue);
}

/** An option restricted to fixed values, e.g. `--backend onnxruntime|openvino`. */
export function choiceOption(flags: string, description: string, values: string[], defaultValue?: string): Option {
  const o = new Option(flags, description).choices(values);
  return defaultValue === undefined ? o : o.default(defaultValue);
}

/** An option whose value must match `pattern` (`what` says in words what is expected). */
export function patternOption(
  flags: string,
  description: string,
  pattern: RegExp,
  what: string,
  defaultValue?: string,
): Option {
  const o = new Option(flags, description).argParser((value: string) => {
    if (!pattern.test(value)) throw new InvalidArgumentError(`Expected ${what}`);
    return value;
  });
  return defaultValue === undefined ? o : o.default(defaultValue);
}

/** `--json` means the same on every command: the result as one JSON document on stdout, and nothing else there. */
export function jsonOption(): Option {
  return new Option('--json', 'print the result as one JSON document on stdout (messages stay on stderr)');
}
