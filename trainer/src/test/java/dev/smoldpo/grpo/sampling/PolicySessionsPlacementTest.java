package dev.smoldpo.grpo.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.runtime.PlacementCheck;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The placement check of GRPO's sampling sessions, forced on here on the CPU (where every node runs on
 * the CPU, so the check must fail): the first run of the vision and of the decoder session is checked
 * and names its graph, later runs are not, and the profiles are deleted when the sessions close.
 */
class PolicySessionsPlacementTest {
    @TempDir
    Path root;

    @Test
    void eachSamplingSessionsFirstRunIsCheckedOnce() throws Exception {
        SamplingFixture fixture = new SamplingFixture(root);
        Map<String, float[]> adapters = fixture.randomB(7, 0.05);
        Set<String> before = placementFolders();
        float[] features;
        float[] logits;
        try (PolicyGraphs graphs = PolicyGraphs.build(fixture.artifacts.dir())) {
            try (PolicySessions plain = PolicySessions.open(graphs, 1, false, PlacementCheck.OFF)) {
                plain.adapters.update(adapters);
                features = plain.imageFeatures(fixture.prompt.image());
                try (PolicySessions.Cache c = plain.prefill(fixture.prompt.inputIds(), features)) {
                    logits = c.logits()[0];
                }
            }
            try (PolicySessions checked = PolicySessions.open(graphs, 1, false, PlacementCheck.FAIL)) {
                checked.adapters.update(adapters);
                IllegalStateException vision = assertThrows(IllegalStateException.class,
                        () -> checked.imageFeatures(fixture.prompt.image()));
                assertTrue(vision.getMessage().contains(PolicyGraphs.VISION + ": "), vision.getMessage());
                assertArrayEquals(features, checked.imageFeatures(fixture.prompt.image()), "the second run is not checked");

                IllegalStateException decoder = assertThrows(IllegalStateException.class,
                        () -> checked.prefill(fixture.prompt.inputIds(), features));
                assertTrue(decoder.getMessage().contains(PolicyGraphs.DECODER + ": MatMul"), decoder.getMessage());
                try (PolicySessions.Cache c = checked.prefill(fixture.prompt.inputIds(), features)) {
                    assertArrayEquals(logits, c.logits()[0], "the second run is not checked");
                }
            }
            try (PolicySessions unused = PolicySessions.open(graphs, 1, false, PlacementCheck.REPORT)) {
                // sessions that never run still write their profiles when they close
            }
        }
        assertEquals(before, placementFolders(), "the profiles are deleted, also those of sessions that never ran");
    }

    private static Set<String> placementFolders() throws IOException {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("smoldpo-placement-")).collect(Collectors.toSet());
        }
    }
}
