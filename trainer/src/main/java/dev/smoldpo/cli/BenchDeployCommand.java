package dev.smoldpo.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.data.DataSplit;
import dev.smoldpo.data.PreferenceDataset;
import dev.smoldpo.data.PreferenceExample;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.export.deploy.DeploymentExporter;
import dev.smoldpo.export.deploy.DeploymentVariants;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.model.demo.RandomCheckpoint;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import dev.smoldpo.infer.Generator;
import dev.smoldpo.infer.GraphDtypes;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.train.config.TrainConfig;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Measures one precision of a deployment folder in this process (so its peak RSS is that model's):
 * file sizes, CPU prefill and decode speed, greedy tokens and answer log-probabilities, and with a fit
 * run the held-out choice accuracy; writes them as JSON for {@link BenchDeploySummary}, which compares
 * the precisions (tools/bench-deploy.sh).
 */
@Command(name = "bench-deploy", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Benchmark one precision of a deployment folder (sizes, CPU speed, peak RSS, tokens, log-probs) into JSON; "
                + "--summarize prints the comparison table of several.")
public final class BenchDeployCommand implements Callable<Integer> {
    @Option(names = "--model", description = "The deployment folder (with --run: default <run>/export/onnx).")
    Path model;

    @Option(names = "--dtype", defaultValue = "fp32", description = "Which files to load, as generate --dtype (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--run", description = "A fit run: its held-out pairs are the prompts, their chosen and rejected answers scored.")
    Path run;

    @Option(names = "--base", description = "With --run: measure the run's untrained base model (float32, exported to <run>/bench-base), "
            + "the reference of the DPO rewards.")
    boolean base;

    @Option(names = "--choices", split = "\\|", description = "Candidate answers (|-separated): the held-out choice accuracy, "
            + "the chosen answer being the right one.")
    List<String> choices;

    @Option(names = "--prompts", defaultValue = "8", description = "Prompts generated greedily and timed (default: ${DEFAULT-VALUE}).")
    int prompts;

    @Option(names = "--new-tokens", defaultValue = "16", description = "Greedy tokens per prompt, end of sequence ignored (default: ${DEFAULT-VALUE}).")
    int newTokens;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime intra-op threads (default: ${DEFAULT-VALUE}, all cores).")
    int threads;

    @Option(names = "--label", defaultValue = "model", description = "Which model this is, in the table (default: ${DEFAULT-VALUE}).")
    String label;

    @Option(names = "--out", description = "The JSON file to write.")
    Path out;

    @Option(names = "--summarize", description = "Print the table comparing the JSON files in this folder, and stop.")
    Path summarize;

    @Option(names = "--export-random", paramLabel = "CONFIG", description = "Write a model of this config.json's shapes with "
            + "random float32 weights and its deployment in every dtype to --work-dir (<work-dir>/deploy), and stop.")
    Path randomConfig;

    @Option(names = "--work-dir", description = "With --export-random: the folder to write.")
    Path workDir;

    @Option(names = "--block-size", defaultValue = "32", description = "With --export-random: export's --block-size (default: ${DEFAULT-VALUE}).")
    int blockSize;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public Integer call() throws Exception {
        if (summarize != null) {
            BenchDeploySummary.print(summarize, System.out);
            return 0;
        }
        if (randomConfig != null) {
            if (workDir == null) {
                throw new IllegalArgumentException("--export-random needs --work-dir");
            }
            System.out.println("deployment: " + exportRandom(randomConfig, workDir, blockSize));
            return 0;
        }
        if (out == null) {
            throw new IllegalArgumentException("give --out (or --summarize)");
        }
        GraphDtypes dtypes = GraphDtypes.parse(dtype);
        List<Item> items = run != null ? heldOut() : synthetic();
        Path folder = model != null ? model : run != null ? run.resolve("export/onnx") : null;
        if (base) {
            folder = baseExport();
            dtypes = GraphDtypes.FP32;
        }
        if (folder == null) {
            throw new IllegalArgumentException("give --model (or --run)");
        }
        ObjectNode result = JSON.createObjectNode();
        result.put("label", label);
        result.put("dtype", dtypes.toString());
        result.put("role", base ? "base" : "model");
        ObjectNode sizes = result.putObject("bytes");
        for (String g : GraphDtypes.GRAPHS) {
            Path f = folder.resolve(dtypes.file(g));
            Path data = f.resolveSibling(f.getFileName() + "_data");
            sizes.put(g, Files.size(f) + (Files.exists(data) ? Files.size(data) : 0));
        }
        try (Generator g = Generator.open(folder, dtypes, threads, false)) {
            System.err.println("[" + label + " " + dtypes + "] " + String.join(", ", g.dtypes().files()) + ": " + items.size()
                    + " prompts");
            measure(g, items, result);
        }
        result.put("peak_rss_bytes", BenchExportCommand.peakRssBytes());
        Files.createDirectories(out.toAbsolutePath().getParent());
        JSON.writerWithDefaultPrettyPrinter().writeValue(out.toFile(), result);
        return 0;
    }

    /** A prompt: question, images, and the answers to score (the first is the chosen one). */
    record Item(String question, List<DecodedImage> images, String chosen, String rejected) {}

    private void measure(Generator g, List<Item> items, ObjectNode result) throws Exception {
        Generator.Options greedy = Generator.Options.greedy(newTokens).withIgnoreEos();
        try (Generator.Prompt warm = g.encode(items.get(0).question(), items.get(0).images())) {
            g.generate(warm, greedy, null, null); // sessions settle their allocations on the first run
        }
        double prefillSeconds = 0;
        double decodeSeconds = 0;
        long prefillTokens = 0;
        long decodeTokens = 0;
        int right = 0;
        int choiceCount = 0;
        ArrayNode rows = result.putArray("prompts");
        for (int i = 0; i < items.size(); i++) {
            Item item = items.get(i);
            ObjectNode row = rows.addObject();
            try (Generator.Prompt prompt = g.encode(item.question(), item.images())) {
                if (i < prompts) {
                    long[] times = new long[2];
                    long start = System.nanoTime();
                    Generator.Result r = g.generate(prompt, greedy, null, logits -> {
                        if (times[0] == 0) {
                            times[0] = System.nanoTime();
                        }
                        times[1] = System.nanoTime();
                    });
                    prefillSeconds += (times[0] - start) / 1e9;
                    decodeSeconds += (times[1] - times[0]) / 1e9;
                    prefillTokens += prompt.length();
                    decodeTokens += r.tokens().length - 1;
                    ArrayNode tokens = row.putArray("tokens");
                    Arrays.stream(r.tokens()).forEach(tokens::add);
                }
                double[] scores = g.scoreAnswers(prompt, List.of(item.chosen(), item.rejected()));
                row.put("chosen_logp", scores[0]);
                row.put("rejected_logp", scores[1]);
                if (choices != null && !choices.isEmpty()) {
                    int want = choices.indexOf(item.chosen().strip());
                    if (want < 0) {
                        throw new IllegalArgumentException("the chosen answer '" + item.chosen() + "' is not among --choices");
                    }
                    double[] all = g.scoreAnswers(prompt, choices);
                    int best = 0;
                    for (int c = 1; c < all.length; c++) {
                        best = all[c] > all[best] ? c : best;
                    }
                    right += best == want ? 1 : 0;
                    choiceCount++;
                }
            }
        }
        if (prefillTokens > 0) {
            result.put("prefill_tokens_per_s", prefillTokens / prefillSeconds);
            result.put("decode_tokens_per_s", decodeTokens / decodeSeconds);
        }
        if (choiceCount > 0) {
            result.put("choice_right", right);
            result.put("choice_count", choiceCount);
        }
    }

    /** The run's held-out pairs, as fit split them. */
    private List<Item> heldOut() {
        TrainConfig config = TrainConfig.load(run.resolve("train_config.json"));
        Path data = config.dataset() != null ? config.dataset() : run.resolve("demo_dataset.parquet");
        List<Item> items = new ArrayList<>();
        try (PreferenceDataset dataset = PreferenceDataset.open(data)) {
            int[] test = DataSplit.of(dataset.size(), config.testSize(), config.effectiveDataSeed()).test();
            for (PreferenceExample e : dataset.get(test)) {
                List<DecodedImage> images = new ArrayList<>();
                for (byte[] image : e.images()) {
                    images.add(DecodedImage.decode(image));
                }
                items.add(new Item(e.promptText(), images, e.chosenText(), e.rejectedText()));
            }
        }
        return items;
    }

    /** --prompts synthetic prompts, each with one image of random coloured blocks (for random-weight models). */
    private List<Item> synthetic() throws Exception {
        List<String> questions = List.of("What is in the picture?", "Describe the image in one sentence.",
                "Which colour covers most of the image?", "Is there any text in this image?");
        List<Item> items = new ArrayList<>();
        for (int i = 0; i < prompts; i++) {
            items.add(new Item(questions.get(i % questions.size()), List.of(DecodedImage.decode(png(96 + 8 * i, 64, i))),
                    "A pattern of coloured squares.", "A cat sleeping on a red sofa."));
        }
        return items;
    }

    private static byte[] png(int width, int height, long seed) throws Exception {
        SplittableRandom r = new SplittableRandom(seed);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int[] colours = r.ints(64, 0, 0x1000000).toArray();
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, colours[(x / 12 + 7 * (y / 12)) % colours.length]);
            }
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(img, "png", bytes);
        return bytes.toByteArray();
    }

    /** A model of {@code config}'s shapes with random float32 weights, its training artifacts, and its deployment in every dtype. */
    static Path exportRandom(Path config, Path dir, int blockSize) throws Exception {
        Path model = RandomCheckpoint.write(config, dir.resolve("model"), 1, SafetensorsDtype.F32);
        ArtifactFiles artifacts = SmolVlmExporter.export(model, dir.resolve("artifacts"), new SmolVlmExporter.Options("random",
                new LoraConfig(8, 8, 0.0, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3));
        return DeploymentExporter.export(artifacts.dir(), null, dir.resolve("deploy"), null,
                new DeploymentVariants(EnumSet.allOf(DeploymentDtype.class), blockSize));
    }

    /** The run's base model (no adapters) in float32, with the run's image preprocessing; exported once. */
    private Path baseExport() throws Exception {
        if (run == null) {
            throw new IllegalArgumentException("--base needs --run");
        }
        TrainConfig config = TrainConfig.load(run.resolve("train_config.json"));
        Path dir = run.resolve("bench-base");
        if (!Files.isRegularFile(dir.resolve("onnx/decoder_model_merged.onnx"))) {
            DeploymentExporter.export(config.artifactsDir(), null, dir, config.imageLongestEdge());
        }
        return dir;
    }
}
