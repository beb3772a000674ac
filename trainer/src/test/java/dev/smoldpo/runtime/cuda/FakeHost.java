package dev.smoldpo.runtime.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A machine laid out in a temporary folder: its loader configuration, environments and fake libraries (empty files). */
final class FakeHost {
    final Path root;
    final Map<String, String> env = new HashMap<>();

    FakeHost(Path root) throws IOException {
        this.root = root;
        Files.createDirectories(root.resolve("etc"));
        Files.createDirectories(root.resolve("opt"));
        Files.createDirectories(root.resolve("home"));
    }

    /** Empty files named {@code names} in {@code folder} (relative to the root); the folder itself. */
    Path libs(String folder, String... names) throws IOException {
        Path dir = root.resolve(folder);
        Files.createDirectories(dir);
        for (String name : names) {
            Files.write(dir.resolve(name), new byte[0]);
        }
        return dir;
    }

    /** site-packages/nvidia/{wheel}/lib of the Python environment at {@code prefix}, with {@code names}. */
    Path wheelLibs(String prefix, String wheel, String... names) throws IOException {
        return libs(prefix + "/lib/python3.12/site-packages/nvidia/" + wheel + "/lib", names);
    }

    Path writeConf(String relative, String text) throws IOException {
        Path file = root.resolve(relative);
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
        return file;
    }

    HostLayout layout() {
        return new HostLayout(env, root.resolve("etc/ld.so.conf"), List.of(root.resolve("usr/lib")), root.resolve("opt"),
                root.resolve("home"));
    }

    /** The search over this host, with nothing bundled (the test class path has no -Pcuda-redist libraries). */
    CudaLibrarySearch search() {
        return CudaLibrarySearch.of(layout(), root.resolve("cache"));
    }

    String path(String relative) {
        return root.resolve(relative).toString();
    }
}
