package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.data.PreferenceExample;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.runtime.PlacementCheck;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The placement check where training and reference sessions are opened. It is forced on here,
 * on the CPU, where every node runs on the CPU: the check must then name the compute nodes of each
 * graph, which shows it profiles the real graphs at the right moment; in report mode the sessions'
 * results must be those of unchecked sessions.
 */
class PlacementCheckWiringTest {
    @TempDir
    static Path dir;
    static ArtifactFiles toy;
    static Path demo;

    @BeforeAll
    static void export() {
        toy = new ArtifactFiles(dir.resolve("toy"));
        assertEquals(0, Main.run("export-artifacts", "--toy", "--out", toy.dir().toString()));
        demo = dir.resolve("demo");
        assertEquals(0, Main.run("export-artifacts", "--out", demo.toString()));
    }

    private static TrainingSession openToy(PlacementCheck check) throws Exception {
        return TrainingSession.open(toy.training(), toy.eval(), toy.optimizer(), toy.checkpoint(), 1, false, check);
    }

    private static Map<String, OnnxTensor> toyInputs(TrainingSession s, float shift) throws Exception {
        float[] x = new float[2 * 8];
        float[] target = new float[2 * 4];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.sin(i + shift);
        }
        for (int i = 0; i < target.length; i++) {
            target[i] = (float) Math.cos(i - shift);
        }
        Map<String, OnnxTensor> in = new LinkedHashMap<>();
        in.put("x", s.floats(x, 2, 8));
        in.put("target", s.floats(target, 2, 4));
        return in;
    }

    /** Two train steps with an optimizer step between them: the losses. */
    private static List<float[]> twoSteps(TrainingSession s) throws Exception {
        List<float[]> losses = new ArrayList<>();
        for (int step = 0; step < 2; step++) {
            Map<String, OnnxTensor> in = toyInputs(s, step);
            try {
                s.ort().lazyResetGrad();
                losses.add(s.trainStep(in).get("loss"));
                s.ort().optimizerStep();
            } finally {
                in.values().forEach(OnnxTensor::close);
            }
        }
        return losses;
    }

    /** The profile folders the check makes in the temporary folder. */
    private static Set<String> placementFolders() throws IOException {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("smoldpo-placement-")).collect(Collectors.toSet());
        }
    }

    @Test
    void theFirstTrainStepProfilesTheTrainingEvalAndOptimizerGraphs() throws Exception {
        Set<String> tempBefore = placementFolders();
        try (TrainingSession s = openToy(PlacementCheck.FAIL)) {
            Map<String, OnnxTensor> in = toyInputs(s, 0);
            try {
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.trainStep(in));
                String m = e.getMessage();
                assertTrue(m.contains("training_model.onnx: "), m);
                assertTrue(m.contains("eval_model.onnx: "), m);
                assertTrue(m.contains("optimizer_model.onnx: AdamWOptimizer"), m);
                assertTrue(m.contains("training_model.onnx: InPlaceAccumulatorV2"), m);
                // once only: the next step runs
                assertEquals(1, s.trainStep(in).get("loss").length);
            } finally {
                in.values().forEach(OnnxTensor::close);
            }
        }
        assertEquals(tempBefore, placementFolders(), "the profiles are deleted");
    }

    @Test
    void aFirstEvalStepChecksAllThreeGraphsToo() throws Exception {
        try (TrainingSession s = openToy(PlacementCheck.FAIL)) {
            Map<String, OnnxTensor> in = toyInputs(s, 0);
            try {
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.evalStep(in));
                String m = e.getMessage();
                assertTrue(m.contains("training_model.onnx: ") && m.contains("eval_model.onnx: ")
                        && m.contains("optimizer_model.onnx: "), m);
                assertEquals(1, s.evalStep(in).get("loss").length);
                assertEquals(1, s.trainStep(in).get("loss").length, "checked once, at the first step of either kind");
            } finally {
                in.values().forEach(OnnxTensor::close);
            }
        }
    }

    @Test
    void theProbeLeavesTheRealSessionAsAnUncheckedOne() throws Exception {
        List<float[]> checked;
        List<float[]> unchecked;
        try (TrainingSession s = openToy(PlacementCheck.REPORT)) {
            checked = twoSteps(s);
        }
        try (TrainingSession s = openToy(PlacementCheck.OFF)) {
            unchecked = twoSteps(s);
        }
        for (int i = 0; i < 2; i++) {
            assertArrayEquals(unchecked.get(i), checked.get(i), "step " + i);
        }
    }

    @Test
    void theReferenceSessionsFirstForwardPassIsChecked() throws Exception {
        ModelConfig model = ModelConfig.load(demo);
        List<PairEncoder.Encoded> pairs = new ArrayList<>();
        try (PairEncoder encoder = new PairEncoder(demo, model, new PairEncoder.Settings(512, 256, true, 32), Device.CPU)) {
            int id = 0;
            for (DemoDataset.Pair p : DemoDataset.generate(4, 11, false)) {
                PreferenceExample e = PreferenceExample.plain(Integer.toString(id), p.png(), p.question(), p.chosen(), p.rejected(), id);
                pairs.add((PairEncoder.Encoded) encoder.encode(List.of(e)).getFirst());
                id++;
            }
        }
        Path referenceModel = demo.resolve(SmolVlmExporter.REFERENCE);
        Set<String> tempBefore = placementFolders();
        List<ReferenceCache.Logps> expected;
        try (ReferenceScorer plain = new ReferenceScorer(referenceModel, new ReferenceCache(dir.resolve("plain.duckdb"), "h"), model,
                DpoLayout.SHARED_PREFIX, 1, false, PlacementCheck.OFF)) {
            expected = plain.score(pairs, 2);
        }
        try (ReferenceScorer checked = new ReferenceScorer(referenceModel, new ReferenceCache(dir.resolve("checked.duckdb"), "h"),
                model, DpoLayout.SHARED_PREFIX, 1, false, PlacementCheck.FAIL)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> checked.score(pairs.subList(0, 2), 2));
            assertTrue(e.getMessage().contains("reference_model.onnx: MatMul"), e.getMessage());
            assertEquals(expected.subList(2, 4), checked.score(pairs.subList(2, 4), 2), "later passes run unchecked");
        }
        assertEquals(tempBefore, placementFolders(), "the profiles are deleted");
    }
}
