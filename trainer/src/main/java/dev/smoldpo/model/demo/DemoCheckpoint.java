package dev.smoldpo.model.demo;

import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.hf.SafetensorsWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes the built-in demo checkpoint: a complete Hugging Face SmolVLM folder (the layout and JSON
 * schema of {@code HuggingFaceTB/SmolVLM-256M-Instruct}) at the tiny sizes of {@link DemoSpec}, with
 * random weights that depend only on the seed.
 *
 * <p>Files: {@code config.json}, {@code generation_config.json}, {@code preprocessor_config.json},
 * {@code processor_config.json} and {@code model.safetensors} holding exactly the tensors that
 * {@link ModelConfig#expectedWeights()} lists for that config. The tokenizer and chat template are
 * not written here.
 *
 * <p>Weights: matrices, embeddings and the patch convolution are normal with standard deviation
 * {@link #WEIGHT_STD} (larger than HF's 0.02 initialiser so the tiny model's outputs are far from
 * uniform); biases are normal with {@link #BIAS_STD}; LayerNorm / RMSNorm weights are
 * {@code 1 + N(0, NORM_STD)} (not exactly one, so a forgotten norm weight shows in parity tests).
 * Every tensor draws from its own stream (seed mixed with a hash of its name) of a SplitMix64
 * generator with Box–Muller normals computed with {@link StrictMath}, so the bytes are identical on
 * every JVM and adding a tensor does not change the others.
 */
public final class DemoCheckpoint {
    private DemoCheckpoint() {}

    /** Standard deviation of matrices, embeddings and the patch convolution. */
    public static final double WEIGHT_STD = 0.2;
    /** Standard deviation of biases (linear, conv and LayerNorm). */
    public static final double BIAS_STD = 0.05;
    /** Standard deviation of norm weights around one. */
    public static final double NORM_STD = 0.1;

    /** The transformers version the JSON files claim (that of the real SmolVLM-256M files). */
    static final String TRANSFORMERS_VERSION = "4.46.0";

    /** Writes the demo checkpoint with F32 weights. */
    public static void write(Path dir, long seed) throws IOException {
        write(dir, seed, SafetensorsDtype.F32);
    }

    /**
     * Writes the demo checkpoint into {@code dir} (created if needed; the five files are replaced).
     *
     * @param dtype F32, BF16 or F16 for {@code model.safetensors} (config's {@code torch_dtype} follows)
     */
    public static void write(Path dir, long seed, SafetensorsDtype dtype) throws IOException {
        String torchDtype = switch (dtype) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> throw new IllegalArgumentException("demo weights can be F32, BF16 or F16, not " + dtype);
        };
        Files.createDirectories(dir);
        writeJson(dir.resolve("config.json"), config(torchDtype));
        writeJson(dir.resolve("generation_config.json"), generationConfig());
        writeJson(dir.resolve("preprocessor_config.json"), preprocessorConfig());
        writeJson(dir.resolve("processor_config.json"), processorConfig());

        ModelConfig cfg = ModelConfig.load(dir.resolve("config.json"));
        SafetensorsWriter w = new SafetensorsWriter();
        for (ModelConfig.WeightSpec spec : cfg.expectedWeights()) {
            w.add(spec.name(), dtype, spec.shape(), values(spec, seed));
        }
        w.write(dir.resolve("model.safetensors"));
    }

    /** The values of one tensor (row-major), as {@link #write} stores them before dtype conversion. */
    public static float[] values(ModelConfig.WeightSpec spec, long seed) {
        long n = spec.elementCount();
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(spec + " is too large for the demo");
        }
        float[] v = new float[(int) n];
        Normal rng = new Normal(mix(seed ^ fnv1a64(spec.name())));
        String name = spec.name();
        boolean isNormWeight = name.endsWith("norm.weight") || name.endsWith("layer_norm1.weight")
                || name.endsWith("layer_norm2.weight") || name.endsWith("layernorm.weight");
        if (isNormWeight) {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (1.0 + NORM_STD * rng.next());
            }
        } else if (name.endsWith(".bias")) {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (BIAS_STD * rng.next());
            }
        } else {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (WEIGHT_STD * rng.next());
            }
        }
        return v;
    }

    // ---------------------------------------------------------------- JSON files

    /** {@code config.json}: the Idefics3ForConditionalGeneration schema of SmolVLM-256M-Instruct. */
    static Map<String, Object> config(String torchDtype) {
        Map<String, Object> text = new TreeMap<>();
        text.put("_name_or_path", "smoldpo-demo-text");
        text.put("architectures", List.of("LlamaForCausalLM"));
        text.put("attention_bias", false);
        text.put("attention_dropout", 0.0);
        text.put("bos_token_id", DemoSpec.IM_START_ID);
        text.put("eos_token_id", DemoSpec.IM_END_ID);
        text.put("head_dim", DemoSpec.TEXT_HIDDEN / DemoSpec.TEXT_HEADS);
        text.put("hidden_act", "silu");
        text.put("hidden_size", DemoSpec.TEXT_HIDDEN);
        text.put("initializer_range", WEIGHT_STD);
        text.put("intermediate_size", DemoSpec.TEXT_INTERMEDIATE);
        text.put("max_position_embeddings", DemoSpec.MAX_POSITION_EMBEDDINGS);
        text.put("mlp_bias", false);
        text.put("model_type", "llama");
        text.put("num_attention_heads", DemoSpec.TEXT_HEADS);
        text.put("num_hidden_layers", DemoSpec.TEXT_LAYERS);
        text.put("num_key_value_heads", DemoSpec.TEXT_KV_HEADS);
        text.put("pad_token_id", DemoSpec.IM_END_ID);
        text.put("pretraining_tp", 1);
        text.put("rms_norm_eps", DemoSpec.RMS_NORM_EPS);
        text.put("rope_interleaved", false);
        text.put("rope_scaling", null);
        text.put("rope_theta", DemoSpec.ROPE_THETA);
        text.put("tie_word_embeddings", false);
        text.put("torch_dtype", torchDtype);
        text.put("use_cache", true);
        text.put("vocab_size", DemoSpec.VOCAB_SIZE);

        Map<String, Object> vision = new TreeMap<>();
        vision.put("_name_or_path", "smoldpo-demo-vision");
        vision.put("attention_dropout", 0.0);
        vision.put("hidden_act", "gelu_pytorch_tanh");
        vision.put("hidden_size", DemoSpec.VISION_HIDDEN);
        vision.put("image_size", DemoSpec.TILE_SIZE);
        vision.put("initializer_range", WEIGHT_STD);
        vision.put("intermediate_size", DemoSpec.VISION_INTERMEDIATE);
        vision.put("layer_norm_eps", DemoSpec.LAYER_NORM_EPS);
        vision.put("max_image_size", Map.of("longest_edge", DemoSpec.TILE_SIZE));
        vision.put("model_type", "idefics3");
        vision.put("num_attention_heads", DemoSpec.VISION_HEADS);
        vision.put("num_channels", 3);
        vision.put("num_hidden_layers", DemoSpec.VISION_LAYERS);
        vision.put("patch_size", DemoSpec.PATCH_SIZE);
        vision.put("size", Map.of("longest_edge", DemoSpec.LONGEST_EDGE));
        vision.put("use_base_siglip", true);

        Map<String, Object> c = new TreeMap<>();
        c.put("architectures", List.of("Idefics3ForConditionalGeneration"));
        c.put("image_token_id", DemoSpec.IMAGE_TOKEN_ID);
        c.put("model_type", "idefics3");
        c.put("scale_factor", DemoSpec.SCALE_FACTOR);
        c.put("text_config", text);
        c.put("tie_word_embeddings", false);
        c.put("torch_dtype", torchDtype);
        c.put("transformers_version", TRANSFORMERS_VERSION);
        c.put("use_cache", true);
        c.put("vision_config", vision);
        c.put("vocab_size", DemoSpec.VOCAB_SIZE);
        return c;
    }

    /** {@code generation_config.json}: generation stops at {@code <end_of_utterance>}. */
    static Map<String, Object> generationConfig() {
        Map<String, Object> g = new TreeMap<>();
        g.put("_from_model_config", true);
        g.put("bos_token_id", DemoSpec.END_OF_TEXT_ID);
        g.put("eos_token_id", DemoSpec.END_OF_UTTERANCE_ID);
        g.put("pad_token_id", DemoSpec.IM_END_ID);
        g.put("transformers_version", TRANSFORMERS_VERSION);
        return g;
    }

    /** {@code preprocessor_config.json}: Idefics3ImageProcessor with the demo's tile and image sizes. */
    static Map<String, Object> preprocessorConfig() {
        Map<String, Object> p = new TreeMap<>();
        p.put("do_convert_rgb", true);
        p.put("do_image_splitting", true);
        p.put("do_normalize", true);
        p.put("do_pad", true);
        p.put("do_rescale", true);
        p.put("do_resize", true);
        p.put("image_mean", List.of(0.5, 0.5, 0.5));
        p.put("image_processor_type", "Idefics3ImageProcessor");
        p.put("image_std", List.of(0.5, 0.5, 0.5));
        p.put("max_image_size", Map.of("longest_edge", DemoSpec.TILE_SIZE));
        p.put("processor_class", "Idefics3Processor");
        p.put("resample", 1);
        p.put("rescale_factor", 1.0 / 255.0);
        p.put("size", Map.of("longest_edge", DemoSpec.LONGEST_EDGE));
        return p;
    }

    /** {@code processor_config.json}. */
    static Map<String, Object> processorConfig() {
        Map<String, Object> p = new TreeMap<>();
        p.put("image_seq_len", DemoSpec.IMAGE_SEQ_LEN);
        p.put("processor_class", "Idefics3Processor");
        return p;
    }

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    /** Two-space indentation, one array element per line, {@code "key": value}, trailing newline. */
    static String toJson(Map<String, Object> tree) throws IOException {
        DefaultPrettyPrinter pp = new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance()
                        .withObjectFieldValueSpacing(Separators.Spacing.AFTER));
        DefaultIndenter indenter = new DefaultIndenter("  ", "\n");
        pp.indentObjectsWith(indenter);
        pp.indentArraysWith(indenter);
        return JSON.writer(pp).writeValueAsString(tree) + "\n";
    }

    private static void writeJson(Path file, Map<String, Object> tree) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        try {
            Files.writeString(tmp, toJson(tree), StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    // ---------------------------------------------------------------- random numbers

    private static long fnv1a64(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= (b & 0xff);
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** Standard normals from SplitMix64 + Box–Muller with StrictMath (bit-reproducible). */
    private static final class Normal {
        private long state;
        private double spare;
        private boolean hasSpare;

        Normal(long seed) {
            this.state = seed;
        }

        private long nextLong() {
            state += 0x9e3779b97f4a7c15L;
            return mix(state);
        }

        /** Uniform in (0, 1]. */
        private double nextUniform() {
            return ((nextLong() >>> 11) + 1) * 0x1.0p-53;
        }

        double next() {
            if (hasSpare) {
                hasSpare = false;
                return spare;
            }
            double u1 = nextUniform();
            double u2 = nextUniform();
            double r = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
            double t = 2.0 * Math.PI * u2;
            spare = r * StrictMath.sin(t);
            hasSpare = true;
            return r * StrictMath.cos(t);
        }
    }

    /** The file names {@link #write} produces. */
    public static List<String> fileNames() {
        return new ArrayList<>(List.of("config.json", "generation_config.json", "preprocessor_config.json",
                "processor_config.json", "model.safetensors"));
    }
}
