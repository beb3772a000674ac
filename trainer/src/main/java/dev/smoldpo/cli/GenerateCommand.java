package dev.smoldpo.cli;

import dev.smoldpo.data.ImageCheck;
import dev.smoldpo.data.PreferenceDataset;
import dev.smoldpo.data.PreferenceExample;
import dev.smoldpo.export.deploy.DeploymentExporter;
import dev.smoldpo.export.deploy.DeploymentVariants;
import dev.smoldpo.infer.GraphDtypes;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import dev.smoldpo.onnx.quant.DtypePasses;
import dev.smoldpo.infer.Generator;
import dev.smoldpo.infer.InferenceException;
import dev.smoldpo.infer.Sampler;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.train.support.RunCheckpoints;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Text generation from a deployment folder (or from artifacts + a trained checkpoint, exported first). */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate an answer for an image and a question with the deployed ONNX model (KV cache, streamed).",
                "The model is a deployment folder (--model), or --artifacts with a trained --checkpoint, merged and exported",
                "first (cached). With --dataset/--index, the question and image of one preference pair are used, and the",
                "question, chosen and rejected answers are printed above the generated one."})
public final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", description = "A deployment folder (config.json, tokenizer files, onnx/*.onnx).")
    Path model;

    @Option(names = "--artifacts", description = "An export-artifacts folder; with --checkpoint, its trained adapters are merged.")
    Path artifacts;

    @Option(names = "--checkpoint", description = "An ORT checkpoint file, or a checkpoint-N folder from fit (needs --artifacts).")
    Path checkpoint;

    @Option(names = "--export-dir", description = "Where --artifacts/--checkpoint is exported (default: a folder under the smoldpo cache, reused while the inputs are unchanged).")
    Path exportDir;

    @Option(names = "--image", description = "An image file (repeat for several images; each gets one <image> before the text).")
    List<Path> images = new ArrayList<>();

    @Option(names = "--prompt", description = "The question.")
    String prompt;

    @Option(names = "--dataset", description = "A preference dataset (parquet or JSONL): use the image and question of --index.")
    Path dataset;

    @Option(names = "--index", description = "The example of --dataset to use (0-based, default: ${DEFAULT-VALUE}).", defaultValue = "0")
    int index;

    @Option(names = "--answer-prefix", defaultValue = "", description = "Start the assistant's answer with this text (e.g. \"It is\"); generation continues it, and "
            + "--choices are scored as prefix + choice, tokenised together.")
    String answerPrefix;

    @Option(names = "--choices", split = "\\|", description = "Candidate answers separated by |: print the most likely one "
            + "(and each one's log-prob) instead of generating freely.")
    List<String> choices;

    @Option(names = "--max-new-tokens", defaultValue = "64", description = "Most tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--temperature", description = "Sample with this temperature (default 1 when sampling).")
    Double temperature;

    @Option(names = "--top-p", description = "Sample from the smallest set of tokens with this much probability.")
    Double topP;

    @Option(names = "--top-k", description = "Sample from the k most likely tokens.")
    Integer topK;

    @Option(names = "--seed", description = "Seed of the sampler when sampling (default: random, printed).")
    Long seed;

    @Option(names = "--greedy", description = "Always take the most likely token (the default unless a sampling option is given).")
    boolean greedy;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime intra-op threads (0 = its default).")
    int threads;

    @Option(names = "--dtype", description = "Which precision of each ONNX graph to load, as transformers.js' dtype: one of fp32, "
            + "fp16, q8, q4, q4f16 for all graphs, or per graph, e.g. decoder_model_merged=q4,vision_encoder=fp16,embed_tokens=q8 "
            + "(graphs left out: fp32). Default: the folder's config.json transformers.js_config.dtype, else fp32. With "
            + "--artifacts, the chosen precisions are exported.")
    String dtype;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        try {
            return run(spec.commandLine().getOut(), err);
        } catch (Exception e) {
            err.println("error: " + ErrorMessage.of(e));
            if (System.getenv("SMOLDPO_DEBUG") != null) {
                e.printStackTrace(err);
            }
            err.flush();
            return 1;
        }
    }

    private int run(PrintWriter out, PrintWriter err) throws Exception {
        Sampler.Settings sampling = sampling(err);
        boolean cuda = switch (device.toLowerCase()) {
            case "cpu" -> false;
            case "cuda", "gpu" -> true;
            default -> throw new InferenceException("--device must be cpu or cuda, not '" + device + "'");
        };
        if (maxNewTokens < 1) throw new InferenceException("--max-new-tokens must be at least 1: " + maxNewTokens);
        if (dataset == null && prompt == null) throw new InferenceException("give --prompt (or --dataset and --index)");
        if (dataset != null && (prompt != null || !images.isEmpty())) {
            throw new InferenceException("--dataset supplies the question and image: leave out --prompt and --image");
        }
        String question = prompt;
        List<DecodedImage> decoded = new ArrayList<>();
        PreferenceExample example = null;
        if (dataset != null) {
            example = example(dataset, index);
            question = example.promptText();
            for (int k = 0; k < example.images().size(); k++) {
                decoded.add(decode(example.images().get(k), "image " + (k + 1) + " of example " + index + " of " + dataset));
            }
        } else {
            for (Path p : images) decoded.add(readImage(p));
        }
        GraphDtypes dtypes;
        try {
            dtypes = dtype == null ? null : GraphDtypes.parse(dtype);
        } catch (IllegalArgumentException e) {
            throw new InferenceException("--dtype: " + e.getMessage(), e);
        }
        Path folder = modelFolder(err, dtypes);
        try (Generator generator = Generator.open(folder, dtypes, threads, cuda)) {
            err.println("loaded (" + generator.dtypes() + "): " + String.join(", ", generator.dtypes().files()));
            err.flush();
            Generator.Options options = new Generator.Options(maxNewTokens, sampling, false);
            if (example != null) {
                out.println("question:  " + oneLine(example.promptText()));
                out.println("chosen:    " + oneLine(example.chosenText()));
                out.println("rejected:  " + oneLine(example.rejectedText()));
                out.print("generated: ");
                out.flush();
            }
            boolean sideBySide = example != null;
            if (choices != null && !choices.isEmpty()) {
                try (Generator.Prompt prompt = generator.encode(question, decoded)) {
                    double[] scores = generator.scoreAnswers(prompt, choices, answerPrefix);
                    int best = 0;
                    for (int i = 1; i < scores.length; i++) {
                        best = scores[i] > scores[best] ? i : best;
                    }
                    out.println(choices.get(best));
                    for (int i = 0; i < scores.length; i++) {
                        err.printf("  %-40s log-prob %.4f%n", choices.get(i), scores[i]);
                    }
                    out.flush();
                    err.flush();
                }
                return 0;
            }
            if (!answerPrefix.isEmpty()) {
                out.print(answerPrefix);
            }
            Generator.Result result;
            try (Generator.Prompt prompt = generator.encode(question, decoded, answerPrefix)) {
                result = generator.generate(prompt, options, text -> {
                    out.print(sideBySide ? oneLine(text) : text);
                    out.flush();
                });
            }
            out.println();
            out.flush();
            err.println("(" + result.tokens().length + " tokens, prompt " + result.promptTokens() + " tokens, stopped: "
                    + result.stop().name().toLowerCase() + ")");
            err.flush();
        }
        return 0;
    }

    /**
     * Greedy unless --temperature, --top-p or --top-k asks to sample (HF's do_sample); --greedy with one of
     * them is a contradiction, and --seed alone changes nothing, so both are said rather than acted on.
     */
    private Sampler.Settings sampling(PrintWriter err) {
        boolean samplingOption = temperature != null || topP != null || topK != null;
        if (greedy && samplingOption) {
            throw new InferenceException("--greedy takes the most likely token, so --temperature, --top-p and --top-k "
                    + "would be ignored: give one or the other");
        }
        if (!samplingOption) {
            if (seed != null) {
                err.println("note: --seed has no effect on greedy decoding; give --temperature, --top-p or --top-k to sample");
            }
            return Sampler.Settings.greedyDecoding();
        }
        long s = seed != null ? seed : new java.security.SecureRandom().nextLong();
        Sampler.Settings settings;
        try {
            settings = Sampler.Settings.sampling(temperature != null ? temperature : 1.0, topK != null ? topK : 0,
                    topP != null ? topP : 1.0, s);
        } catch (IllegalArgumentException e) {
            throw new InferenceException(e.getMessage(), e);
        }
        if (seed == null) err.println("sampling with --seed " + s);
        return settings;
    }

    /** The deployment folder: --model, or the (cached) export of --artifacts with --checkpoint, in the chosen precisions. */
    private Path modelFolder(PrintWriter err, GraphDtypes dtypes) throws IOException {
        if ((model == null) == (artifacts == null)) {
            throw new InferenceException("give either --model (a deployment folder) or --artifacts (with --checkpoint)");
        }
        if (model != null) {
            if (checkpoint != null) throw new InferenceException("--checkpoint goes with --artifacts, not --model");
            return model;
        }
        if (!Files.isDirectory(artifacts)) throw new InferenceException("artifacts folder " + artifacts + " does not exist");
        Path ort = null;
        if (checkpoint != null) {
            if (!Files.exists(checkpoint)) throw new InferenceException(RunCheckpoints.doesNotExist(checkpoint));
            ort = Files.isDirectory(checkpoint) ? checkpoint.resolve(RunCheckpoints.ORT_FILE) : checkpoint;
            if (!Files.isRegularFile(ort)) {
                throw new InferenceException(checkpoint + " is a folder without " + RunCheckpoints.ORT_FILE
                        + " (expected a checkpoint-N folder from fit, or an ORT checkpoint file)");
            }
        }
        Path target = exportDir != null ? exportDir
                : OrtRuntime.cacheRoot().resolve("deployments").resolve(cacheKey(artifacts, ort));
        GraphDtypes wanted = dtypes != null ? dtypes : GraphDtypes.FP32;
        if (exportDir == null && complete(target, wanted)) {
            err.println("deployment folder (cached): " + target);
        } else {
            // keep the precisions a cached folder already has, add the wanted ones
            Set<DeploymentDtype> precisions = new LinkedHashSet<>(wanted.precisions());
            for (DeploymentDtype p : DeploymentDtype.values()) {
                if (exportDir == null && complete(target, GraphDtypes.all(p))) {
                    precisions.add(p);
                }
            }
            err.println("exporting " + artifacts + (ort == null ? "" : " with " + ort) + " to " + target + " ("
                    + String.join(", ", precisions.stream().map(DeploymentDtype::id).toList()) + ") ...");
            err.flush();
            DeploymentExporter.export(artifacts, ort, target, trainingLongestEdge(checkpoint),
                    new DeploymentVariants(precisions, DtypePasses.DEFAULT_BLOCK_SIZE));
        }
        err.flush();
        return target;
    }

    /** The image_longest_edge of the fit run a checkpoint-N folder belongs to (its train_config.json), else null. */
    private static Integer trainingLongestEdge(Path checkpoint) {
        if (checkpoint == null || !Files.isDirectory(checkpoint)) {
            return null;
        }
        Path config = checkpoint.toAbsolutePath().getParent().resolve("train_config.json");
        return Files.isRegularFile(config) ? dev.smoldpo.train.config.TrainConfig.load(config).imageLongestEdge() : null;
    }

    private static boolean complete(Path dir, GraphDtypes dtypes) {
        if (!Files.isRegularFile(dir.resolve("config.json"))) return false;
        for (String f : dtypes.files()) {
            if (!Files.isRegularFile(dir.resolve(f))) return false;
        }
        return true;
    }

    /** Identifies an export: the artifacts' and checkpoint's paths, sizes and modification times. */
    static String cacheKey(Path artifacts, Path ort) throws IOException {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            List<Path> parts = new ArrayList<>();
            parts.add(artifacts.resolve("manifest.json"));
            parts.add(artifacts.resolve("checkpoint"));
            if (ort != null) parts.add(ort);
            d.update(artifacts.toAbsolutePath().normalize().toString().getBytes(StandardCharsets.UTF_8));
            for (Path p : parts) {
                d.update(("|" + p.toAbsolutePath().normalize()).getBytes(StandardCharsets.UTF_8));
                if (Files.exists(p)) {
                    d.update((":" + Files.size(p) + ":" + Files.getLastModifiedTime(p).toMillis())
                            .getBytes(StandardCharsets.UTF_8));
                }
            }
            return HexFormat.of().formatHex(d.digest()).substring(0, 20);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static DecodedImage readImage(Path p) throws IOException {
        if (!Files.exists(p)) throw new InferenceException("image file " + p + " does not exist");
        if (!Files.isRegularFile(p)) throw new InferenceException("image " + p + " is not a file");
        return decode(Files.readAllBytes(p), "image " + p);
    }

    private static DecodedImage decode(byte[] bytes, String what) {
        ImageCheck check = ImageCheck.decode(bytes);
        if (!check.ok()) throw new InferenceException("cannot read " + what + ": " + check.detail());
        return check.image().get();
    }

    private static PreferenceExample example(Path file, int i) {
        if (!Files.exists(file)) throw new InferenceException("dataset " + file + " does not exist");
        try (PreferenceDataset data = PreferenceDataset.open(file)) {
            if (i < 0 || i >= data.size()) {
                throw new InferenceException("--index " + i + " is outside the dataset's " + data.size() + " examples (0.."
                        + (data.size() - 1) + ")");
            }
            return data.get(i);
        }
    }

    private static String oneLine(String s) {
        return s.replace("\r", "").replace("\n", " ");
    }
}
