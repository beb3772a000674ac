package dev.smoldpo.data;

import java.nio.file.Path;

/** A dataset cannot be used: the message names the file and what is wrong with it. */
public class DatasetException extends RuntimeException {

    private final Path file;

    public DatasetException(Path file, String problem) {
        this(file, problem, null);
    }

    public DatasetException(Path file, String problem, Throwable cause) {
        super("dataset " + file + ": " + problem, cause);
        this.file = file;
    }

    /** The dataset file (or folder) concerned. */
    public Path file() {
        return file;
    }
}
