package dev.smoldpo.train.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The effective configuration of a run, where each value came from ("default", "demo recipe",
 * "config file x.yaml", "command line (--beta)", "artifacts .../manifest.json", ...), and the warnings
 * the layers raised. {@link #save(Path)} writes {@code train_config.json}: every key's value, plus
 * {@value ConfigLayers#SOURCES_KEY} with the sources; {@link TrainConfig#load(Path)} reads it back.
 */
public record ResolvedConfig(TrainConfig config, Map<String, String> sources, List<String> warnings) {
    public ResolvedConfig {
        sources = Collections.unmodifiableMap(new LinkedHashMap<>(sources));
        warnings = List.copyOf(warnings);
    }

    /** A configuration whose every key has the same source (e.g. one built in code). */
    public static ResolvedConfig of(TrainConfig config, String source) {
        Map<String, String> sources = new LinkedHashMap<>();
        ConfigKeys.names().forEach(k -> sources.put(k, source));
        return new ResolvedConfig(config, sources, List.of());
    }

    /** The JSON of {@code train_config.json}. */
    public String toJson() {
        ObjectNode tree = ConfigKeys.toTree(config);
        ObjectNode from = tree.putObject(ConfigLayers.SOURCES_KEY);
        ConfigKeys.names().forEach(k -> from.put(k, sources.getOrDefault(k, ConfigLayers.DEFAULT)));
        return ConfigKeys.toJson(tree);
    }

    /** Writes {@link #toJson()} to {@code file} atomically (temporary file, then rename). */
    public void save(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempFile(parent, "." + file.getFileName(), ".tmp");
        try {
            Files.writeString(tmp, toJson(), StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
