package dev.smoldpo.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The file(s) a dataset path stands for: a file itself, or in a folder (e.g. a downloaded hub snapshot)
 * the shards of one split, read as one dataset in shard order.
 *
 * <p>Hub datasets are stored as {@code data/train-00000-of-00003.parquet} (push_to_hub) or {@code
 * train/0000.parquet} (the parquet conversion), often next to the test split's shards. A folder is read
 * as its one split; with several, as its {@code train} split (as fit trains on train); any other mix of
 * files is ambiguous and the user names one.
 *
 * @param path   the path as given (absolute): the file, or the folder
 * @param shards the files to read, in order (one for a plain file)
 * @param split  the split chosen in a folder, e.g. "train", or null for a file or a folder of one split
 * @param others the splits of the folder left unread (empty unless {@code split} is set)
 */
public record DatasetFiles(Path path, List<Path> shards, String split, List<String> others) {
    /** push_to_hub shard names: {@code <split>-00000-of-00003[-<hash>].<ext>}. */
    private static final Pattern SHARD = Pattern.compile("(.+?)-(\\d+)-of-(\\d+)(?:-[^.]*)?\\.[^.]+");
    /** parquet-conversion shard names: {@code <split>/0000.parquet}. */
    private static final Pattern NUMBERED = Pattern.compile("\\d+\\.[^.]+");

    public DatasetFiles {
        shards = List.copyOf(shards);
        others = List.copyOf(others);
    }

    /** The one file read, or the first shard. */
    public Path first() {
        return shards.getFirst();
    }

    /** What a run reads, when it is not simply the file given: e.g. "split train (3 shards; test not read)". */
    public String describe() {
        if (split == null) {
            return shards.size() == 1 ? null : shards.size() + " shards";
        }
        return "split " + split + " (" + shards.size() + (shards.size() == 1 ? " file" : " shards")
                + "; " + String.join(", ", others) + " not read: name a split's file or folder to read it)";
    }

    /**
     * @throws DatasetException when the path does not exist or cannot be read, a folder holds no dataset
     *                          file, several that form no single split, or a split whose shards are missing
     */
    public static DatasetFiles resolve(Path path) {
        if (!Files.exists(path)) {
            throw new DatasetException(path, "no such file or folder");
        }
        if (!Files.isDirectory(path)) {
            if (!Files.isReadable(path)) {
                throw new DatasetException(path, "not readable");
            }
            return new DatasetFiles(path, List.of(path), null, List.of());
        }
        List<Path> found = list(path);
        if (found.isEmpty()) {
            throw new DatasetException(path, "folder holds no .parquet or .jsonl file");
        }
        Map<String, List<Path>> groups = new LinkedHashMap<>();   // parent folder + split -> its files
        Map<String, String> splitOf = new LinkedHashMap<>();
        for (Path f : found) {
            String split = splitName(f);
            String key = f.getParent() + "|" + split;
            groups.computeIfAbsent(key, k -> new ArrayList<>()).add(f);
            splitOf.put(key, split);
        }
        String chosen = groups.size() == 1 ? groups.keySet().iterator().next() : null;
        if (chosen == null) {
            List<String> trains = splitOf.entrySet().stream().filter(e -> e.getValue().equals("train")).map(Map.Entry::getKey).toList();
            if (trains.size() != 1) {
                throw new DatasetException(path, "folder holds several dataset files, name one: " + found.stream().map(path::relativize).toList());
            }
            chosen = trains.getFirst();
        }
        List<Path> shards = groups.get(chosen);
        checkComplete(path, shards);
        if (shards.size() > 1 && !shards.stream().allMatch(f -> f.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".parquet"))) {
            // the JSONL reader keeps byte offsets into one file; several are not read together (yet)
            throw new DatasetException(path, "folder holds several JSON Lines shards " + shards.stream().map(path::relativize).toList()
                    + ", which are read one at a time: name one, or join them (cat them into one .jsonl file)");
        }
        if (groups.size() == 1) {
            return new DatasetFiles(path, shards, null, List.of());
        }
        String key = chosen;
        List<String> others = new ArrayList<>(new TreeSet<>(splitOf.entrySet().stream().filter(e -> !e.getKey().equals(key))
                .map(Map.Entry::getValue).toList()));
        return new DatasetFiles(path, shards, "train", others);
    }

    /** The .parquet/.jsonl/.ndjson files up to 4 folders down, hidden ones (e.g. .cache/) left out, sorted. */
    private static List<Path> list(Path folder) {
        try (Stream<Path> s = Files.walk(folder, 4)) {
            return s.filter(Files::isRegularFile).filter(p -> {
                String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
                return n.endsWith(".parquet") || n.endsWith(".jsonl") || n.endsWith(".ndjson");
            }).filter(p -> !folder.relativize(p).toString().startsWith(".")).sorted().toList();
        } catch (IOException e) {
            throw new DatasetException(folder, "cannot list folder: " + e.getMessage(), e);
        }
    }

    /** train-00000-of-00003.parquet → train; train/0000.parquet → train; test.parquet → test. */
    static String splitName(Path file) {
        String name = file.getFileName().toString();
        Matcher m = SHARD.matcher(name);
        if (m.matches()) {
            return m.group(1).toLowerCase(Locale.ROOT);
        }
        if (NUMBERED.matcher(name).matches() && file.getParent() != null) {
            return file.getParent().getFileName().toString().toLowerCase(Locale.ROOT);
        }
        int dot = name.lastIndexOf('.');
        return (dot > 0 ? name.substring(0, dot) : name).toLowerCase(Locale.ROOT);
    }

    /** A split named "-of-00003" with fewer shards is an interrupted download: reading part of it would go unnoticed. */
    private static void checkComplete(Path folder, List<Path> shards) {
        Matcher m = SHARD.matcher(shards.getFirst().getFileName().toString());
        if (!m.matches()) {
            return;
        }
        int total = Integer.parseInt(m.group(3));
        TreeSet<Integer> present = new TreeSet<>();
        for (Path f : shards) {
            Matcher s = SHARD.matcher(f.getFileName().toString());
            if (s.matches()) {
                present.add(Integer.parseInt(s.group(2)));
            }
        }
        List<Integer> missing = new ArrayList<>();
        for (int i = 0; i < total; i++) {
            if (!present.contains(i)) {
                missing.add(i);
            }
        }
        if (!missing.isEmpty()) {
            throw new DatasetException(folder, "split " + m.group(1) + " has " + total + " shards but shard(s) " + missing
                    + " are missing next to " + folder.relativize(shards.getFirst()) + ": download the dataset again (or "
                    + "name one shard to read only that)");
        }
    }
}
