package dev.smoldpo.cli;

import dev.smoldpo.hf.hub.HubDownloader;
import dev.smoldpo.hf.hub.HubProgress;
import dev.smoldpo.hf.hub.RepoType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where the {@code dataset} of fit or eval is: a local file or folder, or a hub dataset id (e.g.
 * openbmb/RLHF-V-Dataset) to download. Told apart before anything else runs, so that a mistyped local
 * path fails as "no such file" at once instead of as a hub download that cannot succeed.
 *
 * @param local  the local file or folder, or null for a hub dataset
 * @param hubId  the hub dataset id, or null for a local one
 */
record DatasetSource(Path local, String hubId) {
    private static final String HUB_ID = "[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*";
    private static final Pattern HUB_FORM = Pattern.compile(HUB_ID);
    /** The hub form huggingface_hub's file system uses; a Path folds its "//" into "/", so both are accepted. */
    private static final Pattern FORCED_HUB = Pattern.compile("hf:/+datasets/(" + HUB_ID + ")/?");
    private static final String[] DATA_SUFFIXES = {".jsonl", ".ndjson", ".json", ".parquet", ".csv"};

    /**
     * An existing path is local; {@code hf://datasets/owner/name} is the hub; {@code owner/name} is the
     * hub unless it looks like a local path (see {@link #looksLocal}).
     *
     * @throws IllegalArgumentException "no such file" for a local-looking path that does not exist, with
     *                                  the hub form to use when the text could also be a hub id
     */
    static DatasetSource of(Path given) {
        String text = given.toString();
        Matcher forced = FORCED_HUB.matcher(text);
        if (forced.matches()) {
            return new DatasetSource(null, forced.group(1));
        }
        if (Files.exists(given)) {
            return new DatasetSource(given, null);
        }
        boolean hubForm = HUB_FORM.matcher(text).matches();
        if (hubForm && !looksLocal(text)) {
            return new DatasetSource(null, text);
        }
        throw new IllegalArgumentException("no such file: " + given.toAbsolutePath().normalize()
                + (text.startsWith("~") ? " (a ~ inside quotes or a config file is not expanded: write the home folder out)" : "")
                + (hubForm ? "; to download the hub dataset " + text + " instead, pass --dataset hf://datasets/" + text : ""));
    }

    /**
     * Whether a path that does not exist was meant as a local one: it starts like a path ({@code ./},
     * {@code ../}, {@code /}, {@code ~}), ends in a data file's extension (hub ids do not), or its first
     * part is a local folder (then {@code ds/typo} is a typo inside {@code ds}, not a hub id).
     */
    private static boolean looksLocal(String text) {
        if (text.startsWith("./") || text.startsWith("../") || text.startsWith("/") || text.startsWith("~")) {
            return true;
        }
        String lower = text.toLowerCase(Locale.ROOT);
        for (String suffix : DATA_SUFFIXES) {
            if (lower.endsWith(suffix)) {
                return true;
            }
        }
        int slash = text.indexOf('/');
        return slash > 0 && Files.isDirectory(Path.of(text.substring(0, slash)));
    }

    boolean isLocal() {
        return local != null;
    }

    /** The local path as it is; a hub dataset downloaded once into the cache (resumable, HF_TOKEN for private sets). */
    Path fetch() throws Exception {
        if (local != null) {
            return local;
        }
        System.out.println(hubId + " is not a local file: downloading the dataset " + hubId + " from the hub");
        try (HubDownloader hub = HubDownloader.builder(HubDownloader.defaultCacheDir(System.getenv()))
                .repoType(RepoType.DATASET).progress(HubProgress.console()).build()) {
            return hub.download(hubId).dir();
        }
    }
}
