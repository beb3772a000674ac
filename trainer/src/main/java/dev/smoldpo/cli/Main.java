package dev.smoldpo.cli;

import dev.smoldpo.train.GracefulStop;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The trainer.jar command line (started through dev.smoldpo.launcher.Launcher). */
@Command(name = "trainer.jar", mixinStandardHelpOptions = true, version = "smoldpo 0.1.0",
        description = "DPO fine-tuning of SmolVLM with LoRA on ONNX Runtime's training API.",
        subcommands = {ExportArtifactsCommand.class, FitCommand.class, GrpoCommand.class, EvalCommand.class, ExportCommand.class, GenerateCommand.class,
                BenchCompilerCommand.class, BenchExportCommand.class, BenchStashCommand.class, BenchPrecisionCommand.class, BenchDeployCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs the command line and returns its exit code (for tests): 130 or 143 when Ctrl-C or SIGTERM
     * stopped a run, which then ended normally after saving ({@link GracefulStop#exitStatus}).
     */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + ErrorMessage.of(e));
            if (System.getenv("SMOLDPO_DEBUG") != null) {
                e.printStackTrace(cmd.getErr());
            }
            return 1;
        });
        return GracefulStop.exitStatus(cli.execute(args));
    }
}
