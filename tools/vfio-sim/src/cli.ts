// vfio-sim: the command line. With no command it compares the default scenario (a 64 GiB q35
// guest on AMD-Vi, boot then shutdown) under v4.16, v4.17 and mainline.

import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { EXIT_OUTPUT, EXIT_USAGE, OutputError, UsageError } from './errors.js';
import { addScenarioOptions } from './scenario/options.js';
import { runCommand } from './commands/run.js';
import { compareCommand } from './commands/compare.js';
import { sweepCommand } from './commands/sweep.js';
import { replayCommand } from './commands/replay.js';
import { importCommand } from './commands/import.js';
import { reportCommand } from './commands/report.js';
import { DEMOS, demoCommand } from './commands/demo.js';
import { timelineCommand } from './commands/timeline.js';
import { ptCommand } from './commands/pt.js';
import { validateCommand } from './commands/validate.js';
import { examplePath, invocation } from './invocation.js';
// bundled into dist/cli.js by tsup: --version is the version the package was built (and published) as
import PKG from '../package.json' with { type: 'json' };

/** The package.json version of @x/vfio-sim (`vfio-sim --version`). */
export const VERSION: string = PKG.version;

function outputOptions(cmd: Command, parallel: boolean): Command {
  cmd
    .option('--json', 'print the result as JSON (schema vfio-sim/result@2, see README); no progress bar')
    .addOption(
      new Option('--csv', 'print every number of the result as CSV rows case,metric,value (see README); no progress bar').conflicts('json'),
    )
    .option('--trace <file>', 'write a Chrome/Perfetto trace-event JSON file (open in ui.perfetto.dev), streamed as the run goes')
    .addOption(
      new Option(
        '--trace-detail <level>',
        'what --trace records: ioctl (phases, ioctls, DMA), iommu (+ map_pages, unmap_pages, iotlb_sync, pins), all (+ memory counters) (default all)',
      ).choices(['ioctl', 'iommu', 'all']),
    )
    .option('--trace-max <size>', 'refuse a --trace estimated larger than this, before the run (default 1G)')
    .option('--html <file>', 'write a self-contained HTML report with plots')
    .option('--no-progress', 'no progress bar (it is only shown when stderr is a terminal)')
    .option('--strict', 'exit 1 when a case has safety violations or failed ioctls');
  if (parallel) {
    cmd
      .option('--serial', 'run cases one after another instead of on worker threads (same numbers)')
      .option('--workers <n>', 'worker threads (default: one per CPU, at most one per case)');
  }
  return cmd;
}

/**
 * A help text's examples: `$ <invocation> args` lines, comments aligned. Every example is printed the
 * way the user runs the CLI (see invocation.ts), so it can be pasted as it is.
 */
function examples(inv: string, rows: readonly (readonly [args: string, comment?: string])[]): string {
  const lines = rows.map(([a]) => `  $ ${inv}${a === '' ? '' : ` ${a.replace(/\{inv\}/g, () => inv)}`}`);
  // comments line up after the longest example, or after the longest commented one when that is shorter than 60 columns
  const longest = Math.max(...lines.map((l) => l.length));
  const w = longest <= 60 ? longest : Math.max(...lines.map((l, i) => (rows[i]![1] !== undefined ? l.length : 0)));
  return `\nExamples:\n${lines.map((l, i) => (rows[i]![1] !== undefined ? `${l.padEnd(w)}  # ${rows[i]![1]}` : l)).join('\n')}`;
}

export function buildProgram(): Command {
  // the usage lines and examples name the command as the user typed it ('vfio-sim', 'pnpm vfio-sim', 'node .../cli.js')
  const inv = invocation();
  const program = new Command(inv)
    .description(
      'Model VFIO type1 DMA mapping on the IOMMU core and AMD-Vi: IOTLB syncs, invalidations, PTE writes, pins and modeled time per kernel release (v3.19 .. v7.1; by default v4.16, v4.17 and mainline), side by side.',
    )
    .version(VERSION)
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      examples(inv, [
        ['', 'default: 64G guest, v4.16 vs v4.17 vs mainline'],
        ['sweep --tlb-sync-max 1,8,64,512,4096', 'is 512 regions per sync a good cap?'],
        ['compare --backing 4k,thp,hugetlb-1g --profile v4.17'],
        ['run --profile v4.17 --guest 16G --trace t.json --html r.html'],
        ['run --record boot.jsonl && {inv} replay boot.jsonl --profile mainline'],
        ['report --costs'],
      ]),
    );

  const compare = program
    .command('compare', { isDefault: true })
    .description(
      'run cases side by side: the three kernel profiles by default; any scenario option (not --seed) takes a comma list, and each list multiplies the cases',
    )
    .argument(
      '[scenario-files...]',
      'JSON scenario files, each a case; flags given as well override their fields in every file (not with --scenario)',
    )
    .addHelpText(
      'after',
      examples(inv, [
        ['compare', 'v4.16, v4.17, mainline on the default 64G guest'],
        ['compare --guest 256G --profile v4.17,mainline'],
        ['compare --backing 4k,hugetlb-1g --profile v4.17'],
        ['compare --workload churn --churn-ops 20000'],
        [`compare ${examplePath('dgpu-256g.json')} --guest 64G --profile v4.16,v4.17`],
        ['compare a.json b.json --json > cmp.json'],
        ['compare --csv > cmp.csv', 'one row per case and number: case,metric,value'],
      ]),
    );
  outputOptions(addScenarioOptions(compare), true).action(async (files: string[], o) => {
    // compare is the default command, so `vfio-sim rn` lands here with 'rn' as a scenario file
    checkScenarioArgs(files, program.args[0] !== 'compare', program);
    // the plain profile comparison (no files, no lists) ends with hints on what to try next
    const lists = Object.values(o).some((v) => typeof v === 'string' && v.includes(','));
    process.exitCode = await compareCommand(files, o, files.length === 0 && o.profile === undefined && !lists);
  });

  const run = program
    .command('run')
    .description('run one scenario under one kernel release (default mainline)')
    .addHelpText(
      'after',
      examples(inv, [
        ['run', 'default scenario, mainline'],
        ['run --profile v4.17 --guest 1T --backing hugetlb-1g'],
        [`run --scenario ${examplePath('churn.json')} --guest 8G`],
        ['run --guest 8G --record run.jsonl --trace run.trace.json'],
      ]),
    );
  outputOptions(addScenarioOptions(run), false)
    .option('--record <file>', `write the ioctl stream as JSON Lines (replay it with \`${inv} replay\`)`)
    .action(async (o) => {
      process.exitCode = await runCommand(o);
    });

  const sweep = program
    .command('sweep')
    .description('vary one scenario option over a comma list (release default mainline) and show the trade-off')
    .addHelpText(
      'after',
      examples(inv, [
        ['sweep --tlb-sync-max 1,8,64,512,4096', 'syncs vs queued bytes vs time pinned after unmap'],
        ['sweep --guest 8G,32G,128G --profile v4.17'],
        ['sweep --backing 4k,fragmented:0.5,thp,hugetlb-1g --html sweep.html'],
      ]),
    );
  outputOptions(addScenarioOptions(sweep), true).action(async (o) => {
    process.exitCode = await sweepCommand(o);
  });

  const replay = program
    .command('replay')
    .description('replay a recorded ioctl stream (JSON Lines, see README) and report its counters')
    .argument('[file]', `a .jsonl file written by \`${inv} run --record\`, \`${inv} import\` or by hand`)
    .option('--profile <list>', 'replay under these kernel releases instead of the recorded one (comma list)')
    .option('--tlb-sync-max <n>', 'VFIO_IOMMU_TLB_SYNC_MAX for the replay')
    .option('--machine <name>', "replay on this host hardware's costs instead of the recorded one")
    .option('--init', 'print a commented template of a replay file (it replays as it is) and exit')
    .addHelpText(
      'after',
      examples(inv, [
        ['run --guest 8G --record boot.jsonl'],
        ['replay boot.jsonl', 'same counters as the run'],
        ['replay boot.jsonl --profile v4.16,v4.17,mainline --html replay.html'],
        ['replay boot.jsonl --machine broadwell-2021', "the same calls on a 2021 Broadwell's costs"],
        ['replay --init > mine.jsonl', 'a file to edit by hand'],
      ]),
    );
  outputOptions(replay, true).action(async (file: string | undefined, o) => {
    process.exitCode = await replayCommand(file, o);
  });

  program
    .command('import')
    .description(
      'turn a QEMU -trace log of the VFIO memory listener (or the iommufd backend) into a replay file; what it assumes goes to stderr',
    )
    .argument('<trace>', 'QEMU trace output: log backend lines with or without their PID@time or ISO-8601 prefix, syslog or ftrace lines')
    .option('-o, --output <file>', 'write the replay file here (default: stdout)')
    .option(
      '--backing <kind>',
      'host backing of the RAM blocks the trace maps: 4k, thp, hugetlb-2m, hugetlb-1g, fragmented:<p> (default thp)',
    )
    .option('--profile <release>', 'kernel release the header names (default mainline); replay --profile runs others')
    .addHelpText(
      'after',
      `
Examples:
  $ qemu-system-x86_64 -trace 'vfio_listener_region*' -D qemu.log ...   # the trace to import${examples(inv, [
    ['import qemu.log -o boot.jsonl'],
    ['replay boot.jsonl --profile v4.16,v4.17,mainline'],
  ]).replace('\nExamples:', '')}`,
    )
    .action((trace: string, o) => {
      process.exitCode = importCommand(trace, o);
    });

  program
    .command('report')
    .description('print the cost table (--costs) or re-render a saved --json result')
    .argument('[file]', 'a result written with --json')
    .option('--costs', 'print the modeled cost of every event and where the number comes from')
    .addOption(new Option('--driver <name>', 'driver whose events to list with --costs').choices(['amd', 'reference']))
    .option('--profile <release>', 'release for --costs (default mainline)')
    .option('--machine <name>', 'host hardware for --costs (default: the default machine)')
    .option('--cost <event=ns,...>', 'show the table with these overrides')
    .option('--json', 'print JSON')
    .addOption(new Option('--csv', 're-render FILE as CSV rows case,metric,value').conflicts('json'))
    .option('--html <file>', 're-render FILE as an HTML report')
    .addHelpText(
      'after',
      examples(inv, [
        ['report --costs'],
        ['report --costs --machine broadwell-2021', "the 2021 Broadwell host's costs and where each comes from"],
        ['compare --json > cmp.json && {inv} report cmp.json --html cmp.html'],
      ]),
    )
    .action((file: string | undefined, o) => {
      process.exitCode = reportCommand(file, o);
    });

  program
    .command('pt')
    .description(
      'page-table micro-benchmark (as the iommupt cover letter measured): modeled ns per iommu_map or iommu_unmap call of N pages, no IOTLB flush',
    )
    .argument('<op>', 'map | unmap')
    .option('--pages <n>', 'pages per call (default 1)')
    .option('--page-size <size>', '4K, 2M or 1G (default 4K)')
    .option('--profile <release>', 'kernel release (default mainline)')
    .option('--machine <name>', 'host hardware (default: the default machine)')
    .addOption(new Option('--driver <name>', 'IOMMU driver (default amd)').choices(['amd', 'reference']))
    .option('--repeat <n>', 'calls timed (default 100)')
    .option('--cost <event=ns,...>', 'override modeled costs')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples(inv, [
        ['pt map --pages 256 --profile v6.18 --machine i7-12700', 'AMD io-pgtable: a walk from the top per PTE'],
        ['pt unmap --pages 256 --profile v6.19 --machine i7-12700', 'iommupt keeps its place'],
      ]),
    )
    .action((op: string, o) => {
      process.exitCode = ptCommand(op, o);
    });

  program
    .command('validate')
    .description(
      "the published measurements of this path next to the model's figures for the same experiments (exit 1 when one misses its tolerance)",
    )
    .argument('[cases...]', 'only the cases whose id starts with one of these (default: all)')
    .option('--kind <kind>', 'target, held-out or all (default all)')
    .option(
      '--json',
      "print JSON: every case with its source, published and model figures, tolerance, the command that reproduces it and the metric path in that command's --json output",
    )
    .option('--markdown', 'print the page docs/validation.md is generated from (cases, commands, machine profiles)')
    .option('--no-progress', 'no progress line (it is only shown when stderr is a terminal)')
    .addHelpText(
      'after',
      examples(inv, [
        ['validate', 'every case, a table'],
        ['validate lizhe-thp --json', "Li Zhe's THP figures with their commands"],
      ]),
    )
    .action(async (ids: string[], o) => {
      process.exitCode = await validateCommand(ids, o, inProcessCli);
    });

  program
    .command('timeline')
    .description(
      "the kernel timeline the model is built from: every entry, one release's profile, or what differs between two releases (with commit ids)",
    )
    .argument('[releases...]', 'none, one release, or two (A B, or A..B); any v3.19 .. v7.1, or mainline')
    .option('--driver <name>', 'only the entries that apply with this driver: amd or reference')
    .option('--json', 'print JSON: each entry with its effect in the model and how its release was verified')
    .addHelpText(
      'after',
      examples(inv, [
        ['timeline v4.16 v4.17', 'what the 2018 series changed'],
        ['timeline v4.17..mainline --driver amd', 'everything since, for an AMD-Vi machine'],
        ['timeline v5.12 --json', 'the profile of one release'],
      ]),
    )
    .action((releases: string[], o) => {
      process.exitCode = timelineCommand(releases, o);
    });

  program
    .command('demo')
    .description(
      `replay a fixed call sequence that shows a bug around the 2018 map_try_harder review, with the checker's report (${DEMOS.join(', ')})`,
    )
    .argument('<name>', DEMOS.join(' | '))
    .option('--variant <name>', 'map_try_harder unwind: landed, rfc-v2, suggested (default: the one with the bug)')
    .option('--json', 'print the calls and violations as JSON')
    .addHelpText(
      'after',
      examples(inv, [
        ['demo try-harder-leak', 'landed unwind: page 0 stays mapped, unpinned'],
        ['demo review-bug', 'rfc-v2 unwind: last unmap reports 0, no sync, device reaches freed frames'],
        ['demo review-bug --variant suggested', "the reviewer's unwind on the same run: warns, syncs, nothing reported"],
      ]),
    )
    .action((name: string, o) => {
      process.exitCode = demoCommand(name, o);
    });

  // commander's own help command shows the program's help for `help foo`; ours says foo is unknown
  program.helpCommand(false);
  program
    .command('help')
    .description('display help for command')
    .argument('[command]')
    .action((name: string | undefined) => {
      if (name === undefined) {
        program.outputHelp();
        return;
      }
      const c = program.commands.find((x) => x.name() === name);
      if (c === undefined) throw new UsageError('', unknownCommand(name, program));
      c.outputHelp();
    });

  return program;
}

/** Edit distance (optimal string alignment: a swap of two neighbours counts 1), for suggestions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** `unknown command 'rn' (did you mean 'run'?)`; the nearest command within 3 edits that keeps most of its letters. */
function unknownCommand(name: string, program: Command): string {
  const names = program.commands.map((c) => c.name());
  let best: string | null = null,
    bestD = Infinity;
  for (const n of names) {
    const dist = editDistance(name.toLowerCase(), n);
    if (dist < bestD && dist <= 3 && (n.length - dist) / n.length > 0.4) {
      best = n;
      bestD = dist;
    }
  }
  return `unknown command '${name}' ${best !== null ? `(did you mean '${best}'?)` : `(commands: ${names.join(', ')})`}`;
}

/**
 * A compare argument is a scenario file. When compare was not typed (it is the default command),
 * a first argument that is neither an existing file nor path-like (no '/', no .json/.jsonl) is a
 * mistyped command: `vfio-sim rn`, `vfio-sim swep --guest 1G`. Missing path-like files are
 * reported when the scenario file is read ("cannot read scenario file x.json: ENOENT").
 */
function checkScenarioArgs(files: readonly string[], implicit: boolean, program: Command): void {
  const f = files[0];
  if (!implicit || f === undefined || existsSync(f)) return;
  if (f.includes('/') || /\.jsonl?$/i.test(f)) return;
  throw new UsageError('', unknownCommand(f, program));
}

/** Runs the CLI; returns the exit code (usage errors: one line on stderr, code 2). */
/**
 * vfio-sim run in this process with stdout captured (validate runs its cases' commands this way:
 * the same code path as the command line, without a node start-up per command).
 */
export async function inProcessCli(args: readonly string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const write = process.stdout.write.bind(process.stdout);
  const saved = process.exitCode;
  process.stdout.write = ((c: string | Uint8Array): boolean => {
    stdout += typeof c === 'string' ? c : Buffer.from(c).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  try {
    process.exitCode = undefined;
    return { code: await main(args), stdout };
  } finally {
    process.stdout.write = write;
    process.exitCode = saved;
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ outputError: () => {} });
  for (const c of program.commands) {
    c.exitOverride();
    c.configureOutput({ outputError: () => {} });
  }
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      process.stderr.write(`vfio-sim: ${e.message.replace(/^error: /, '').split('\n')[0]}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`vfio-sim: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof OutputError) {
      process.stderr.write(`vfio-sim: ${e.message}\n`);
      return EXIT_OUTPUT;
    }
    throw e;
  }
}

/**
 * Whether Node started this file as its main script (not a test importing it). An installed bin is a
 * link named `vfio-sim` (node_modules/.bin, the global bin directory): argv[1] keeps the link's path
 * while import.meta.url is the file it points to, so compare the resolved paths.
 */
function isMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  // `vfio-sim | head` closes stdout early: stop quietly like other CLIs
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    else throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`vfio-sim: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
