package dev.smoldpo.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the nodes out of an ONNX Runtime profile (the Chrome-trace JSON a session writes with
 * profiling on): each {@code "cat": "Node"} event whose args name the node's {@code provider} and
 * {@code op_name}, with {@code input_type_shape} / {@code output_type_shape} lists of
 * {@code {type: [dims]}}. A node that ran several times is listed once. ORT leaves initializers
 * (counted as the node's parameter_size) and sequences out of those lists, so a node's tensors here
 * are its computed tensor inputs and its tensor outputs.
 */
public final class ProfileReader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String KERNEL_SUFFIX = "_kernel_time";

    private ProfileReader() {}

    public static List<ProfiledNode> read(Path profile) {
        JsonNode events;
        try {
            events = JSON.readTree(profile.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the ONNX Runtime profile " + profile + " (" + e.getMessage() + ")", e);
        }
        if (events == null || !events.isArray()) {
            throw new IllegalStateException(profile + " is not an ONNX Runtime profile (a JSON array of events)");
        }
        Map<String, ProfiledNode> nodes = new LinkedHashMap<>();
        for (JsonNode e : events) {
            JsonNode args = e.path("args");
            if (!"Node".equals(e.path("cat").asText()) || !args.has("provider") || !args.has("op_name")) {
                continue; // session events, and the fence events around a kernel
            }
            String name = e.path("name").asText();
            if (name.endsWith(KERNEL_SUFFIX)) {
                name = name.substring(0, name.length() - KERNEL_SUFFIX.length());
            }
            String node = name;
            nodes.computeIfAbsent(node, n -> new ProfiledNode(n, args.get("op_name").asText(), args.get("provider").asText(),
                    tensors(args.path("input_type_shape"), profile, n), tensors(args.path("output_type_shape"), profile, n)));
        }
        return List.copyOf(nodes.values());
    }

    private static List<ProfiledNode.Tensor> tensors(JsonNode list, Path profile, String node) {
        List<ProfiledNode.Tensor> out = new ArrayList<>();
        for (JsonNode entry : list) {
            Iterator<Map.Entry<String, JsonNode>> fields = entry.properties().iterator();
            if (!fields.hasNext()) {
                throw new IllegalStateException(profile + ": node '" + node + "' has an empty tensor entry " + entry);
            }
            Map.Entry<String, JsonNode> f = fields.next();
            long[] shape = new long[f.getValue().size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = f.getValue().get(i).asLong();
            }
            out.add(new ProfiledNode.Tensor(f.getKey(), shape));
        }
        return out;
    }
}
