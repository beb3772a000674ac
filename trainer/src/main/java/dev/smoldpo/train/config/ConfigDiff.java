package dev.smoldpo.train.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What changed between two configurations of one run in the keys that change what is trained (those
 * {@link TrainConfig#hash()} covers): a hash says only that something differs, which leaves the user
 * to compare two JSON files by eye.
 */
public final class ConfigDiff {
    private ConfigDiff() {}

    /**
     * {@code key before -> after} for each trained key whose value differs, in declaration order (values as
     * in {@code train_config.json}); empty exactly when the two hashes are equal.
     */
    public static List<String> trainedKeys(TrainConfig before, TrainConfig after) {
        ObjectNode a = ConfigKeys.toTree(before);
        ObjectNode b = ConfigKeys.toTree(after);
        List<String> changes = new ArrayList<>();
        for (String key : ConfigKeys.names()) {
            if (!TrainConfig.NOT_HASHED.contains(key) && !Objects.equals(a.get(key), b.get(key))) {
                changes.add(key + " " + text(a.get(key)) + " -> " + text(b.get(key)));
            }
        }
        return changes;
    }

    private static String text(JsonNode v) {
        return v == null || v.isNull() ? "null" : v.isTextual() ? v.textValue() : v.toString();
    }
}
