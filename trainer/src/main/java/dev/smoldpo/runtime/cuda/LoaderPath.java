package dev.smoldpo.runtime.cuda;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The folders the dynamic loader searches for a library named without a path, as three places in
 * its own order: LD_LIBRARY_PATH, the folders that ldconfig caches (those listed in
 * /etc/ld.so.conf and the files it includes), then the loader's default folders.
 *
 * <p>We read the configuration rather than the binary cache (/etc/ld.so.cache) because it names
 * folders, which an error message can list, and because a fake layout in a test can stand in for it.
 */
final class LoaderPath {
    /** Includes nest rarely; a cycle (a file including itself) must not recurse for ever. */
    private static final int MAX_INCLUDE_DEPTH = 8;

    private LoaderPath() {}

    static List<SearchPlace> places(HostLayout host) {
        return List.of(ldLibraryPath(host), ldconfig(host),
                new SearchPlace("the loader's default folders", existing(host.defaultLibraryFolders())));
    }

    private static SearchPlace ldLibraryPath(HostLayout host) {
        String value = host.variable("LD_LIBRARY_PATH");
        if (value == null) {
            return new SearchPlace("LD_LIBRARY_PATH (unset)", List.of());
        }
        List<Path> folders = new ArrayList<>();
        for (String entry : value.split(":")) {
            if (!entry.isBlank()) { // an empty entry means the working folder to the loader: not a place for CUDA
                folders.add(Path.of(entry));
            }
        }
        return new SearchPlace("LD_LIBRARY_PATH", folders);
    }

    private static SearchPlace ldconfig(HostLayout host) {
        Set<Path> folders = new LinkedHashSet<>();
        readConf(host.ldSoConf(), folders, 0);
        String label = host.ldSoConf() + " (the folders ldconfig caches)";
        return new SearchPlace(Files.isRegularFile(host.ldSoConf()) ? label : host.ldSoConf() + " (missing)",
                new ArrayList<>(folders));
    }

    /** Adds the folders {@code conf} lists, following its {@code include} lines (globs in the last part). */
    private static void readConf(Path conf, Set<Path> folders, int depth) {
        if (depth > MAX_INCLUDE_DEPTH || !Files.isRegularFile(conf)) {
            return;
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(conf);
        } catch (IOException e) {
            return; // an unreadable configuration adds no folders; the error message lists what was found
        }
        for (String raw : lines) {
            String line = raw.replaceFirst("#.*", "").trim();
            if (line.isEmpty() || line.startsWith("hwcap ")) {
                continue;
            }
            if (line.startsWith("include ") || line.startsWith("include\t")) {
                for (String pattern : line.substring("include".length()).trim().split("\\s+")) {
                    for (Path included : expand(conf.getParent(), pattern)) {
                        readConf(included, folders, depth + 1);
                    }
                }
                continue;
            }
            // ldconfig accepts folders separated by spaces, tabs, commas or colons
            for (String folder : line.split("[\\s,:]+")) {
                if (folder.startsWith("/")) {
                    folders.add(Path.of(folder));
                }
            }
        }
    }

    /** The files an include pattern names, sorted as ldconfig reads them; relative patterns start at the including file's folder. */
    private static List<Path> expand(Path base, String pattern) {
        Path path = Path.of(pattern);
        if (!path.isAbsolute() && base != null) {
            path = base.resolve(path);
        }
        Path folder = path.getParent();
        String name = path.getFileName().toString();
        List<Path> matches = new ArrayList<>();
        if (folder == null || !Files.isDirectory(folder)) {
            return matches;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder, name)) {
            files.forEach(matches::add);
        } catch (IOException e) {
            return matches;
        }
        matches.sort(null);
        return matches;
    }

    private static List<Path> existing(List<Path> folders) {
        return folders.stream().filter(Files::isDirectory).toList();
    }
}
