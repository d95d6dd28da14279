// `npm run bench:accuracy`: does CLoRA beat LoRA? A multi-seed, multi-task study (bench/study/): head only,
// full fine-tuning, LoRA at ranks 4/8/16 and CLoRA at p 1/2/4/8 with and without SADE, each with its learning
// rate (and SADE weight) chosen on a validation split carved from the training images, then trained once per
// seed (each seed redraws the training images) and scored on the test set. Writes accuracy.json (every run
// and the summary), one SVG plot per task and accuracy-runs.jsonl (the resumable run log), and prints
// markdown tables. A benchmark, not a test: hours on an emulated GPU (`--quick` is the test suite's form).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeGpuContext } from '../src/gpu/node';
import { StudyOptionError } from './study/methods';
import { parseStudyOptions, USAGE } from './study/options';
import { accuracyPlotSvg } from './study/plot';
import { studyMarkdown } from './study/report';
import { runStudy } from './study/study';

async function run(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseStudyOptions(argv);
  } catch (error) {
    if (error instanceof StudyOptionError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  // The study runs kernels the test suite has proven, for hours: without Dawn's bounds checks (3–5× on
  // emulators), as for pretraining (src/gpu/node.ts). --checked keeps them.
  const ctx = await createNodeGpuContext({ quiet: true, dawnFlags: options.checked ? [] : ['enable-dawn-features=disable_robustness'] });
  try {
    const result = await runStudy(ctx, options, log);
    mkdirSync(options.outDir, { recursive: true });
    const jsonPath = join(options.outDir, 'accuracy.json');
    writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
    const plots: string[] = [];
    for (const task of result.tasks) {
      const path = join(options.outDir, `accuracy-${task.id}.svg`);
      const subtitle = `${result.options.seeds} seeds, ${task.trainImages} training samples per seed, ${task.testImages} test samples; ${result.adapter}`;
      writeFileSync(path, accuracyPlotSvg(task, subtitle));
      plots.push(path);
    }
    process.stdout.write(`\n${studyMarkdown(result)}\n`);
    log(`${result.ranRuns} runs trained, ${result.reusedRuns} taken from the run log; ${result.seconds.toFixed(0)} s on ${result.adapter}${options.checked ? '' : ' (bounds checks off)'}`);
    log(`wrote ${jsonPath}, ${plots.join(', ')}`);
    return 0;
  } catch (error) {
    if (error instanceof StudyOptionError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    ctx.destroy();
  }
}

process.exit(await run(process.argv.slice(2)));
