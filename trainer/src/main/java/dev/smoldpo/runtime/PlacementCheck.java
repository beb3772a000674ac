package dev.smoldpo.runtime;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The run-time guard against silent CPU fallback under {@code --device cuda}: the first run of each
 * session (training, eval and optimizer graphs, reference model, deployment graphs) is profiled,
 * and the nodes ONNX Runtime ran on the CPU are listed and split into expected shape arithmetic and
 * compute ({@link CpuPlacements}).
 *
 * <p>Switched by the environment variable {@value #ENV}: unset, {@code 0} or {@code off} (the
 * default: profiling costs a little and the training probe a second session, see
 * {@link TrainingPlacementProbe}); {@code report} prints every CPU-placed node; {@code 1} or
 * {@code fail} prints a summary and fails when a compute node ran on the CPU. Sessions on the CPU
 * are never checked: there every node runs on the CPU by design.
 */
public enum PlacementCheck {
    OFF, REPORT, FAIL;

    public static final String ENV = "SMOLDPO_CUDA_PLACEMENT_CHECK";

    /** The check {@value #ENV} asks for on a session opened with {@code cuda}; OFF on the CPU. */
    public static PlacementCheck forDevice(boolean cuda) {
        return cuda ? parse(System.getenv(ENV)) : OFF;
    }

    static PlacementCheck parse(String value) {
        if (value == null || value.isBlank() || value.equals("0") || value.equalsIgnoreCase("off")) {
            return OFF;
        }
        if (value.equals("1") || value.equalsIgnoreCase("fail")) {
            return FAIL;
        }
        if (value.equalsIgnoreCase("report")) {
            return REPORT;
        }
        throw new IllegalArgumentException(ENV + "=" + value + " is not one of off, report, fail (or 0, 1)");
    }

    public boolean active() {
        return this != OFF;
    }

    /**
     * Judges the profiled nodes of each graph (keyed by a label such as the file name): prints one
     * line per graph to {@code out} (REPORT: and every CPU-placed node), and under FAIL throws an
     * {@link IllegalStateException} listing the compute nodes that ran on the CPU.
     */
    public void verify(Map<String, List<ProfiledNode>> graphs, PrintStream out) {
        if (this == OFF) {
            return;
        }
        List<String> compute = new ArrayList<>();
        int shape = 0;
        for (Map.Entry<String, List<ProfiledNode>> g : graphs.entrySet()) {
            CpuPlacements cpu = CpuPlacements.of(g.getValue());
            out.printf("cuda placement: %s: %d nodes ran, %d on the CPU (%d shape arithmetic, %d compute)%n", g.getKey(),
                    cpu.total(), cpu.shapeArithmetic().size() + cpu.compute().size(), cpu.shapeArithmetic().size(),
                    cpu.compute().size());
            if (this == REPORT) {
                cpu.shapeArithmetic().forEach(n -> out.println("  shape arithmetic: " + n.describe()));
                cpu.compute().forEach(n -> out.println("  compute: " + n.describe()));
            }
            shape += cpu.shapeArithmetic().size();
            cpu.compute().forEach(n -> compute.add(g.getKey() + ": " + n.describe()));
        }
        if (this == FAIL && !compute.isEmpty()) {
            throw new IllegalStateException("--device cuda: ONNX Runtime ran " + compute.size() + " compute node(s) on the CPU"
                    + " (CUDA has no kernel for their op, opset or types), copying their tensors between host and GPU on"
                    + " every run:\n  " + String.join("\n  ", compute) + "\n(" + shape + " shape-arithmetic node(s) on the CPU"
                    + " are expected and not counted.) " + ENV + "=report lists them without failing.");
        }
    }
}
