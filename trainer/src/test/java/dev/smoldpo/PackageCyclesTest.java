package dev.smoldpo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.spi.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * The packages of the trainer, read from its compiled classes by the JDK's own {@code jdeps}: no
 * package cycles, and the layers depend one way (ARCHITECTURE.md).
 */
class PackageCyclesTest {
    /** package → the dev.smoldpo packages it uses, from {@code jdeps -verbose:package} over target/classes. */
    static Map<String, Set<String>> packageGraph() throws Exception {
        Path classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow(() -> new AssertionError("this JDK has no jdeps"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = jdeps.run(new PrintWriter(out), new PrintWriter(err), "-verbose:package", "-e", "dev\\.smoldpo\\..*",
                "--multi-release", String.valueOf(Runtime.version().feature()), "-q", classes.toString());
        assertEquals(0, code, err.toString());
        Map<String, Set<String>> graph = new TreeMap<>();
        for (String line : out.toString().split("\n")) {
            String[] f = line.trim().split("\\s+");
            // "   dev.smoldpo.a   ->   dev.smoldpo.b   classes"
            if (f.length >= 3 && f[1].equals("->") && f[0].startsWith("dev.smoldpo.") && f[2].startsWith("dev.smoldpo.")) {
                graph.computeIfAbsent(f[0], k -> new TreeSet<>());
                graph.computeIfAbsent(f[2], k -> new TreeSet<>());
                if (!f[0].equals(f[2])) {
                    graph.get(f[0]).add(f[2]);
                }
            }
        }
        return graph;
    }

    /** The strongly connected components with more than one package (Tarjan). */
    static List<Set<String>> cycles(Map<String, Set<String>> graph) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<Set<String>> found = new ArrayList<>();
        int[] counter = {0};
        for (String v : graph.keySet()) {
            if (!index.containsKey(v)) {
                connect(v, graph, index, low, stack, onStack, found, counter);
            }
        }
        return found;
    }

    private static void connect(String v, Map<String, Set<String>> graph, Map<String, Integer> index, Map<String, Integer> low,
                                Deque<String> stack, Set<String> onStack, List<Set<String>> found, int[] counter) {
        index.put(v, counter[0]);
        low.put(v, counter[0]++);
        stack.push(v);
        onStack.add(v);
        for (String w : graph.getOrDefault(v, Set.of())) {
            if (!index.containsKey(w)) {
                connect(w, graph, index, low, stack, onStack, found, counter);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            Set<String> component = new TreeSet<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                component.add(w);
            } while (!w.equals(v));
            if (component.size() > 1) {
                found.add(component);
            }
        }
    }

    @Test
    void theTrainerHasNoPackageCycles() throws Exception {
        Map<String, Set<String>> graph = packageGraph();
        assertTrue(graph.size() > 20, "jdeps saw the packages: " + graph.keySet());
        assertEquals(List.of(), cycles(graph), "package cycles");
    }

    @Test
    void theLayersDependOneWay() throws Exception {
        Map<String, Set<String>> graph = packageGraph();
        // lower layers never reach up: graph IR and autodiff know no model; no model code knows training,
        // inference or the command line; inference does not use training
        Map<String, List<String>> forbidden = Map.of(
                "dev.smoldpo.onnx", List.of("dev.smoldpo.autodiff", "dev.smoldpo.artifacts", "dev.smoldpo.model", "dev.smoldpo.train"),
                "dev.smoldpo.autodiff", List.of("dev.smoldpo.artifacts", "dev.smoldpo.model", "dev.smoldpo.train"),
                "dev.smoldpo.model", List.of("dev.smoldpo.train", "dev.smoldpo.infer", "dev.smoldpo.cli", "dev.smoldpo.export"),
                "dev.smoldpo.data", List.of("dev.smoldpo.train", "dev.smoldpo.infer", "dev.smoldpo.cli", "dev.smoldpo.model"),
                "dev.smoldpo.infer", List.of("dev.smoldpo.train", "dev.smoldpo.cli"),
                "dev.smoldpo.train", List.of("dev.smoldpo.infer", "dev.smoldpo.cli"));
        List<String> violations = new ArrayList<>();
        graph.forEach((from, tos) -> forbidden.forEach((layer, banned) -> {
            if (from.equals(layer) || from.startsWith(layer + ".")) {
                for (String to : tos) {
                    if (banned.stream().anyMatch(b -> to.equals(b) || to.startsWith(b + "."))) {
                        violations.add(from + " -> " + to);
                    }
                }
            }
        }));
        assertEquals(List.of(), violations);
    }

    @Test
    void aPlantedCycleIsFound() {
        Map<String, Set<String>> graph = new TreeMap<>(Map.of("a", Set.of("b"), "b", Set.of("c"), "c", Set.of("a", "d"),
                "d", Set.of()));
        assertEquals(List.of(Set.of("a", "b", "c")), cycles(graph));
    }
}
