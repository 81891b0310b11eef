/**
 * Gives a command `--config FILE` and an environment variable per option, with the precedence
 * flags > environment > file > defaults. Commander already ranks its value sources that way
 * (an environment value replaces a `config` one, a flag replaces both), so the file only fills
 * options whose value is still the default.
 */
import { Option } from 'commander';
import type { Command } from 'commander';
import { ConfigError, envName, fileOptions, isFlag, loadSection } from './config-file.js';
import type { ConfigSection } from './config-file.js';

/** Options a file never sets: run modes and secrets on the command line. */
export interface ConfigurableOptions {
  /** Attribute names of options the file may not set (e.g. `print`, `token`). */
  readonly except?: readonly string[];
}

/** Add `--config` and environment variables to `cmd`; returns `cmd`. */
export function configurable(cmd: Command, section: ConfigSection, o: ConfigurableOptions = {}): Command {
  const except = ['config', ...(o.except ?? [])];
  for (const option of fileOptions(cmd, except)) {
    if (option.envVar !== undefined) continue;
    // Commander listens for an option's variable only if it was named before the option was
    // added, so this listener does what its own would, naming the variable in errors.
    const name = envName(section, option);
    option.env(name);
    cmd.on(`optionEnv:${option.name()}`, (raw?: string) => {
      const attr = option.attributeName();
      if (isFlag(option)) {
        cmd.setOptionValueWithSource(attr, !option.negate, 'env');
        return;
      }
      const text = raw ?? '';
      try {
        const value = option.parseArg === undefined ? text : option.parseArg(text, undefined);
        cmd.setOptionValueWithSource(attr, option.variadic && option.parseArg === undefined ? text.split(/\s+/).filter((x) => x !== '') : value, 'env');
      } catch (err) {
        const choices = /^Allowed choices are (.*)\.$/.exec((err as Error).message)?.[1];
        throw new ConfigError(`environment ${name}: ${choices === undefined ? (err as Error).message : `expected one of ${choices}, got "${text}"`}`);
      }
    });
  }
  cmd.addOption(new Option('--config <file>', `TOML configuration file; its [${section}] table sets any option below (flags > environment > file > defaults)`).env('STROOM_CONFIG'));
  const apply = (file: string): void => {
    for (const [attr, value] of loadSection(file, section, cmd, except)) {
      const source = cmd.getOptionValueSource(attr);
      if (source === undefined || source === 'default') cmd.setOptionValueWithSource(attr, value, 'config');
    }
  };
  // Applied as soon as --config is parsed: flags after it and environment values still win,
  // and required options may come from the file.
  cmd.on('option:config', apply);
  cmd.on('optionEnv:config', apply);
  return cmd;
}
