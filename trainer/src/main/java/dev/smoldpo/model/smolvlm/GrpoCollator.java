package dev.smoldpo.model.smolvlm;

import static dev.smoldpo.model.smolvlm.GrpoInputs.*;
import static dev.smoldpo.model.smolvlm.SmolVlmInputs.INPUT_IDS;
import static dev.smoldpo.model.smolvlm.SmolVlmInputs.MERGE_INDEX;
import static dev.smoldpo.model.smolvlm.SmolVlmInputs.POSITION_IDS;
import static dev.smoldpo.model.smolvlm.SmolVlmInputs.SEGMENT_IDS;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.onnx.TensorData;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Groups of sampled completions → the token and vision inputs of the GRPO graphs ({@link GrpoInputs}
 * describes the shared-prefix layout): one row per prompt, its image encoded once, its G completions
 * after it. Sequences are numbered group by group, completion by completion.
 */
public final class GrpoCollator {
    /** One prompt (its image tokens already expanded) with its image tiles and its sampled completions. */
    public record Group(long[] prompt, DpoCollator.Tiles image, List<long[]> completions) {}

    private final TileInputs tiles;
    private final long imageToken;
    private final int imageSeqLen;

    public GrpoCollator(ModelConfig config) {
        this.tiles = new TileInputs(config);
        this.imageToken = config.imageTokenId();
        this.imageSeqLen = config.imageSeqLen();
    }

    /** The graph inputs of {@code groups} other than advantages, log-probs and the loss settings. */
    public Map<String, TensorData> collate(List<Group> groups) {
        if (groups.isEmpty()) {
            throw new IllegalArgumentException("empty batch");
        }
        List<DpoCollator.Tiles> images = new ArrayList<>();
        int t = 0;
        int c = 0;
        int seqs = 0;
        for (int i = 0; i < groups.size(); i++) {
            Group gr = groups.get(i);
            if (gr.prompt().length == 0) {
                throw new IllegalArgumentException("group " + i + ": the prompt is empty");
            }
            tiles.requireModelTileShape(gr.image(), "group " + i);
            images.add(tiles.dropPaddingTiles(gr.image()));
            int len = gr.prompt().length;
            for (long[] completion : gr.completions()) {
                len += completion.length;
                c = Math.max(c, completion.length);
            }
            t = Math.max(t, len);
            seqs += gr.completions().size();
        }
        c = Math.max(c, 1);
        int rows = groups.size();
        long[] ids = new long[rows * t];
        long[] pos = new long[rows * t];
        long[] seg = new long[rows * t];
        long[] merge = new long[rows * t];
        long[] targetIndex = new long[seqs * c];
        long[] completionIds = new long[seqs * c];
        float[] mask = new float[seqs * c];
        int[] firstTile = TileInputs.firstTiles(images);
        long imageBase = (long) rows * t;
        int seq = 0;
        for (int r = 0; r < rows; r++) {
            Group gr = groups.get(r);
            int base = r * t;
            for (int i = 0; i < t; i++) {
                merge[base + i] = base + i;
            }
            int n = gr.prompt().length;
            int imageTokens = 0;
            for (int i = 0; i < n; i++) {
                ids[base + i] = gr.prompt()[i];
                pos[base + i] = i;
                seg[base + i] = 1;
                if (gr.prompt()[i] == imageToken) {
                    merge[base + i] = imageBase + (long) firstTile[r] * imageSeqLen + imageTokens++;
                }
            }
            int expected = images.get(r).count() * imageSeqLen;
            if (imageTokens != expected) {
                throw new IllegalArgumentException("group " + r + ": the prompt has " + imageTokens + " image tokens but"
                        + " its image gives " + images.get(r).count() + " tiles x " + imageSeqLen + " = " + expected);
            }
            int at = n;
            for (int g = 0; g < gr.completions().size(); g++, seq++) {
                long[] completion = gr.completions().get(g);
                for (int j = 0; j < completion.length; j++) {
                    ids[base + at + j] = completion[j];
                    pos[base + at + j] = n + j;      // positions restart after the prompt for every completion
                    seg[base + at + j] = 2 + g;      // and each completion sees only the prompt and itself
                    // the first token is predicted from the prompt's last position, the others from their predecessor
                    targetIndex[seq * c + j] = base + (j == 0 ? n - 1 : at + j - 1);
                    completionIds[seq * c + j] = completion[j];
                    mask[seq * c + j] = 1f;
                }
                at += completion.length;
            }
        }
        Map<String, TensorData> out = new LinkedHashMap<>();
        tiles.put(images, out);
        out.put(INPUT_IDS, TensorData.longs(new long[] {rows, t}, ids));
        out.put(POSITION_IDS, TensorData.longs(new long[] {rows, t}, pos));
        out.put(SEGMENT_IDS, TensorData.longs(new long[] {rows, t}, seg));
        out.put(MERGE_INDEX, TensorData.longs(new long[] {rows, t}, merge));
        out.put(TARGET_INDEX, TensorData.longs(new long[] {seqs, c}, targetIndex));
        out.put(COMPLETION_IDS, TensorData.longs(new long[] {seqs, c}, completionIds));
        out.put(COMPLETION_MASK, TileInputs.floats(mask, seqs, c));
        return out;
    }
}
