package dev.smoldpo.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtTrainingSession;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The {@link PlacementCheck} of a training session. ORT's training API opens three inference
 * sessions (training, eval and optimizer graphs) from one set of options and cannot end their
 * profiling before they close, so a profiled run cannot be the real session: profiling it for a
 * whole run would hold every step's events in memory. Instead a second training session over the
 * same files and start checkpoint runs one train step, one optimizer step and one eval step with
 * the inputs of the real session's first step (train or eval: ours take the same inputs), closes
 * (which writes its three profiles), and the check judges them. The real session's state is
 * untouched.
 *
 * <p>Costs: a second copy of the graphs' weights and activations on the device during that step.
 * Dropout masks in the real run differ from an unchecked run's, since the probe draws from ORT's
 * process-wide random generator first.
 */
public final class TrainingPlacementProbe {
    private TrainingPlacementProbe() {}

    /**
     * @param options     fresh session options like the real session's (closed here)
     * @param trainInputs a train step's inputs (then an optimizer step runs too), or null to leave those graphs out
     * @param evalInputs  an eval step's inputs, or null to leave the eval graph out
     */
    public static void run(PlacementCheck check, OrtSession.SessionOptions options, Path training, Path eval, Path optimizer,
                           Path checkpoint, Map<String, OnnxTensor> trainInputs, Map<String, OnnxTensor> evalInputs)
            throws OrtException {
        if (!check.active()) {
            options.close();
            return;
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("smoldpo-placement-");
        } catch (IOException e) {
            options.close();
            throw new UncheckedIOException("cannot create a folder for the training session's ONNX Runtime profiles", e);
        }
        try {
            options.enableProfiling(dir.resolve("profile").toString());
            try (OrtTrainingSession probe = OrtRuntime.environment().createTrainingSession(checkpoint.toString(),
                    training.toString(), eval.toString(), optimizer.toString(), options)) {
                if (trainInputs != null) {
                    probe.trainStep(trainInputs).close();
                    probe.optimizerStep();
                }
                if (evalInputs != null) {
                    probe.evalStep(evalInputs).close();
                }
            } // closing writes the profiles, one per graph, empty for a graph that did not run
            List<Path> files = profiles(dir);
            if (files.size() != 3) {
                throw new IllegalStateException("the placement check expected 3 ONNX Runtime profiles of the training"
                        + " session's graphs but found " + files.size() + " (" + files + "): two of its sessions began"
                        + " profiling in the same millisecond and shared a file; run again");
            }
            Map<String, List<ProfiledNode>> graphs = label(files, training, eval, optimizer);
            for (Path graph : List.of(training, optimizer, eval)) {
                if (!graphs.containsKey(graph.getFileName().toString())) {
                    System.err.println("cuda placement: " + graph.getFileName() + ": not checked (the first step's inputs"
                            + " do not cover the graph's)");
                }
            }
            check.verify(graphs, System.err);
        } finally {
            options.close();
            FirstRunProfile.deleteTree(dir);
        }
    }

    private static List<Path> profiles(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    /**
     * Which profile is which graph: the optimizer graph runs AdamWOptimizer, the training graph the
     * gradient accumulators, the eval graph neither. Profiles of graphs that did not run are empty.
     */
    private static Map<String, List<ProfiledNode>> label(List<Path> files, Path training, Path eval, Path optimizer) {
        Map<String, List<ProfiledNode>> out = new LinkedHashMap<>();
        List<String> unknown = new ArrayList<>();
        for (Path f : files) {
            List<ProfiledNode> nodes = ProfileReader.read(f);
            if (nodes.isEmpty()) {
                continue;
            }
            boolean adamw = nodes.stream().anyMatch(n -> n.op().equals("AdamWOptimizer"));
            boolean accumulates = nodes.stream().anyMatch(n -> n.op().equals("InPlaceAccumulatorV2"));
            String name = (adamw ? optimizer : accumulates ? training : eval).getFileName().toString();
            if (out.putIfAbsent(name, nodes) != null) {
                unknown.add(f.getFileName().toString());
            }
        }
        if (!unknown.isEmpty()) {
            throw new IllegalStateException("cannot tell which graph the profiles " + unknown + " belong to: found " + out.keySet());
        }
        return out;
    }
}
