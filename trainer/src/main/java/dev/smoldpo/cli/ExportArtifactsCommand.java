package dev.smoldpo.cli;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.hf.hub.HubDownloader;
import dev.smoldpo.hf.hub.HubProgress;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.DpoLossType;
import dev.smoldpo.model.smolvlm.ActivationRecompute;
import dev.smoldpo.model.smolvlm.Precision;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.model.toy.ToyLoraMlp;
import dev.smoldpo.onnx.ModelSummary;
import dev.smoldpo.runtime.OrtRuntime;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Builds ORT training artifacts for LoRA DPO from a SmolVLM checkpoint (a folder, a hub id, or the built-in demo). */
@Command(name = "export-artifacts", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Build ONNX Runtime training artifacts for LoRA DPO from a Hugging Face SmolVLM checkpoint:",
                "training, eval and optimizer graphs, checkpoint (LoRA tensors only), reference_model.onnx,",
                "manifest.json, and the tokenizer and processor files. With no argument: the built-in demo model."})
public final class ExportArtifactsCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "MODEL_DIR_OR_HUB_ID",
            description = "A local checkpoint folder, or a hub id such as HuggingFaceTB/SmolVLM-256M-Instruct (downloaded when online).")
    String model;

    @Option(names = "--out", description = "Output folder (default: onnx-artifacts/<name>).")
    Path out;

    @Option(names = "--name", description = "Export name (default: demo, or the model folder's name).")
    String name;

    @Option(names = "--lora-r", defaultValue = "8", description = "LoRA rank r (default: ${DEFAULT-VALUE}).")
    int loraR;

    @Option(names = "--lora-alpha", defaultValue = "8", description = "LoRA alpha; adapters are scaled by alpha / r (default: ${DEFAULT-VALUE}).")
    double loraAlpha;

    @Option(names = "--lora-dropout", defaultValue = "0.0", description = "LoRA dropout (default: ${DEFAULT-VALUE}).")
    double loraDropout;

    @Option(names = "--target-modules", split = ",", description = "Module-name suffixes that get adapters (default: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj).")
    List<String> targetModules;

    @Option(names = "--text-only", description = "Adapters on the text model only (the defaults also match the vision tower's q/k/v).")
    boolean textOnly;

    @Option(names = "--loss", defaultValue = "dpo", paramLabel = "dpo|grpo",
            description = {"The training objective in the graphs (default: ${DEFAULT-VALUE}). grpo: TRL's GRPO loss over",
                    "sampled completions (trainer.jar grpo); its loss_type, epsilon and temperature are run settings."})
    String loss;

    @Option(names = "--kl", description = "grpo: include TRL's KL penalty to the reference (k3 estimator, for beta > 0); "
            + "without it the graphs have no reference input (TRL's default beta = 0).")
    boolean kl;

    @Option(names = "--loss-type", defaultValue = "sigmoid", description = "sigmoid, robust, hinge, ipo or apo_zero (default: ${DEFAULT-VALUE}).")
    String lossType;

    @Option(names = "--label-smoothing", defaultValue = "0.0", description = "cDPO/robust label smoothing (default: ${DEFAULT-VALUE}).")
    double labelSmoothing;

    @Option(names = "--reference-free", description = "Drop the reference model from the loss.")
    boolean referenceFree;

    @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "Global gradient-norm clipping, 0 = off (default: ${DEFAULT-VALUE}; grpo trains with it, fit takes it as its "
            + "max_grad_norm unless given).")
    double maxGradNorm;

    @Option(names = "--weight-decay", defaultValue = "0.0", description = "AdamW weight decay (default: ${DEFAULT-VALUE}; grpo trains with it, fit takes it as its "
            + "weight_decay unless given).")
    double weightDecay;

    @Option(names = "--adam-beta1", defaultValue = "0.9", description = "AdamW beta1 (default: ${DEFAULT-VALUE}; grpo trains with it, fit takes it as its "
            + "adam_beta1 unless given).")
    double beta1;

    @Option(names = "--adam-beta2", defaultValue = "0.999", description = "AdamW beta2 (default: ${DEFAULT-VALUE}; grpo trains with it, fit takes it as its "
            + "adam_beta2 unless given).")
    double beta2;

    @Option(names = "--adam-epsilon", defaultValue = "1e-8", description = "AdamW epsilon (default: ${DEFAULT-VALUE}; grpo trains with it, fit takes it as its "
            + "adam_epsilon unless given).")
    double epsilon;

    @Option(names = "--precision", defaultValue = "fp32", paramLabel = "fp32|bf16|fp16",
            description = {"Type of the frozen weights, matmuls and attention (default: ${DEFAULT-VALUE}). The LoRA tensors, "
                    + "their gradients and the optimizer stay fp32, and so do softmax, norms and the loss. bf16 and fp16 "
                    + "halve the weights file and train (fit, grpo) with --device cuda only (ONNX Runtime's CPU provider has "
                    + "no bf16/fp16 MatMul)."})
    String precision;

    @Option(names = "--recompute", defaultValue = "none", paramLabel = "none|attention|vision|layers",
            description = {"Activations the backward pass recomputes instead of keeping them from the forward pass, "
                    + "trading compute for memory (default: ${DEFAULT-VALUE}). attention: each attention's score and "
                    + "probability matrices, as a memory-efficient attention kernel does; layers: everything but each "
                    + "layer's input, as transformers' gradient_checkpointing=True; vision: layers for the vision "
                    + "encoder, attention for the decoder."})
    String recompute;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the LoRA initialisation and of the demo model (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--revision", defaultValue = "main", description = "Hub revision (default: ${DEFAULT-VALUE}).")
    String revision;

    @Option(names = "--toy", description = "Export the toy LoRA MLP instead (a smoke test of the compiler).")
    boolean toy;

    @Override
    public Integer call() throws Exception {
        AdamWConfig adamw = new AdamWConfig(beta1, beta2, epsilon, weightDecay, maxGradNorm);
        Precision chosen = Precision.fromConfig(precision);
        ActivationRecompute recomputed = ActivationRecompute.fromConfig(recompute);
        long start = System.nanoTime();
        ArtifactFiles files;
        if (toy) {
            if (chosen != Precision.FP32) {
                throw new IllegalArgumentException("--precision " + precision + ": the toy model is exported in fp32 only");
            }
            if (recomputed != ActivationRecompute.NONE) {
                throw new IllegalArgumentException("--recompute " + recompute + ": the toy model has no layers to recompute");
            }
            String exportName = name != null ? name : "toy";
            files = exportToy(out != null ? out : Path.of("onnx-artifacts", exportName), exportName, adamw);
        } else {
            Path modelDir = resolveModel();
            String exportName = name != null ? name : model == null ? "demo" : modelDir.getFileName().toString();
            LoraConfig lora = new LoraConfig(loraR, loraAlpha, loraDropout,
                    targetModules == null ? LoraConfig.DEFAULT_TARGETS : targetModules, textOnly);
            DpoConfig dpo = new DpoConfig(DpoLossType.fromTrl(lossType), labelSmoothing, referenceFree);
            files = SmolVlmExporter.export(modelDir, out != null ? out : Path.of("onnx-artifacts", exportName),
                    new SmolVlmExporter.Options(exportName, lora, dpo, adamw, seed, chosen, grpo(), recomputed));
        }
        ModelSummary training = ModelSummary.read(files.training());
        System.out.printf("exported %s in %.1f s (%s): training graph %,d nodes, %d trainable tensors%n", files.dir(),
                (System.nanoTime() - start) / 1e9, chosen.configName(), training.nodeCount(),
                training.inputNames().stream().filter(n -> n.endsWith(ArtifactBuilder.BUFFER_SUFFIX)).count());
        if (!chosen.runsOnCpu()) {
            System.out.println("note: " + chosen.configName() + " artifacts train (fit, grpo) with --device cuda only "
                    + "(ONNX Runtime's CPU provider has no " + chosen.configName() + " MatMul kernel)");
        }
        return 0;
    }

    /** The GRPO settings of the export, or null for DPO; refuses options of the other objective. */
    private SmolVlmExporter.Grpo grpo() {
        switch (loss) {
            case "dpo" -> {
                if (kl) {
                    throw new IllegalArgumentException("--kl is a GRPO option; add --loss grpo");
                }
                return null;
            }
            case "grpo" -> {
                if (!lossType.equals("sigmoid") || labelSmoothing != 0 || referenceFree) {
                    throw new IllegalArgumentException("--loss grpo: --loss-type, --label-smoothing and --reference-free are"
                            + " DPO options (GRPO's loss_type is a run setting of trainer.jar grpo)");
                }
                return new SmolVlmExporter.Grpo(kl);
            }
            default -> throw new IllegalArgumentException("--loss " + loss + ": use dpo or grpo");
        }
    }

    /** The checkpoint folder: the demo (generated), a local folder, or a hub snapshot. */
    private Path resolveModel() throws Exception {
        if (model == null) {
            Path dir = OrtRuntime.cacheRoot().resolve("demo-model-" + seed);
            System.out.println("no model given: using the built-in demo model (" + dir + ")");
            return DemoModel.write(dir, seed);
        }
        Path local = Path.of(model);
        if (Files.isDirectory(local)) {
            return local;
        }
        if (Files.exists(local)) {
            throw new IllegalArgumentException(model + " is a file; pass the checkpoint folder that holds config.json and model.safetensors");
        }
        if (!model.matches("[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")) {
            throw new IllegalArgumentException(model + " is neither a folder nor a hub id (org/name)");
        }
        try (HubDownloader hub = HubDownloader.builder(HubDownloader.defaultCacheDir(System.getenv()))
                .progress(HubProgress.console()).build()) {
            return hub.download(model, revision, HubDownloader.SMOLVLM_FILES).dir();
        }
    }

    static ArtifactFiles exportToy(Path dir, String name, AdamWConfig adamw) {
        return ArtifactBuilder.build(ToyLoraMlp.standard(), adamw, dir, name, Map.of("model", "toy-lora-mlp"));
    }
}
