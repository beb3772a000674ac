package dev.smoldpo.runtime.cuda;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Python environments whose NVIDIA wheels (nvidia-cublas, nvidia-cuda-runtime, nvidia-cudnn-cu13,
 * ...) can lend ONNX Runtime their CUDA libraries: hosts set up for PyTorch keep them there and
 * nowhere else. Each wheel puts its libraries in {@code site-packages/nvidia/<name>/lib} (CUDA 13
 * wheels share {@code nvidia/cu13/lib}; cuDNN has {@code nvidia/cudnn/lib}).
 *
 * <p>The environments, in this order, each one place:
 * <ol>
 *   <li>{@code $VIRTUAL_ENV} (an activated virtual environment),</li>
 *   <li>{@code $CONDA_PREFIX} (an activated conda environment),</li>
 *   <li>{@code /opt/<name>/.venv}, every one, by name (where images install a shared environment),</li>
 *   <li>the {@code python3} first on PATH: the folder above its {@code bin/} as the prefix, symbolic
 *       links not followed, since a virtual environment's python3 links to the system's,</li>
 *   <li>{@code ~/.local} (pip's user site).</li>
 * </ol>
 * In a prefix, site-packages are {@code lib/python3*}/{@code site-packages} and {@code dist-packages}
 * (Debian's name), and {@code local/lib/python3*}/{@code dist-packages}; in each, the folders
 * {@code nvidia/*}/{@code lib}, by name.
 */
final class PythonEnvironments {
    private PythonEnvironments() {}

    static List<SearchPlace> places(HostLayout host) {
        List<SearchPlace> places = new ArrayList<>();
        places.add(variable(host, "VIRTUAL_ENV"));
        places.add(variable(host, "CONDA_PREFIX"));
        places.add(optVenvs(host));
        places.add(pythonOnPath(host));
        places.add(prefix("~/.local (pip's user site, " + host.home().resolve(".local") + ")", host.home().resolve(".local")));
        return places;
    }

    private static SearchPlace variable(HostLayout host, String name) {
        String value = host.variable(name);
        return value == null ? new SearchPlace(name + " (unset)", List.of()) : prefix(name + "=" + value, Path.of(value));
    }

    private static SearchPlace optVenvs(HostLayout host) {
        List<Path> folders = new ArrayList<>();
        for (Path app : sorted(host.optRoot(), "*")) {
            Path venv = app.resolve(".venv");
            if (Files.isDirectory(venv)) {
                folders.addAll(nvidiaLibFolders(venv));
            }
        }
        return new SearchPlace(host.optRoot().resolve("*").resolve(".venv") + " (nvidia/*/lib in their site-packages)", folders);
    }

    private static SearchPlace pythonOnPath(HostLayout host) {
        String path = host.variable("PATH");
        if (path != null) {
            for (String entry : path.split(":")) {
                if (entry.isBlank()) {
                    continue;
                }
                Path python = Path.of(entry).resolve("python3");
                Path prefix = Path.of(entry).toAbsolutePath().getParent();
                if (Files.isRegularFile(python) && Files.isExecutable(python) && prefix != null) {
                    return prefix("python3 on PATH (" + python + ", prefix " + prefix + ")", prefix);
                }
            }
        }
        return new SearchPlace("python3 on PATH (none found)", List.of());
    }

    private static SearchPlace prefix(String label, Path prefix) {
        return new SearchPlace(label, nvidiaLibFolders(prefix));
    }

    /** {@code nvidia/*}/{@code lib} folders of every site-packages folder of the environment at {@code prefix}. */
    static List<Path> nvidiaLibFolders(Path prefix) {
        List<Path> sitePackages = new ArrayList<>();
        for (Path python : sorted(prefix.resolve("lib"), "python3*")) {
            sitePackages.add(python.resolve("site-packages"));
            sitePackages.add(python.resolve("dist-packages"));
        }
        for (Path python : sorted(prefix.resolve("local").resolve("lib"), "python3*")) {
            sitePackages.add(python.resolve("dist-packages"));
        }
        List<Path> folders = new ArrayList<>();
        for (Path site : sitePackages) {
            for (Path wheel : sorted(site.resolve("nvidia"), "*")) {
                Path lib = wheel.resolve("lib");
                if (Files.isDirectory(lib)) {
                    folders.add(lib);
                }
            }
        }
        return folders;
    }

    /** The entries of {@code folder} matching {@code glob}, sorted by name; none when it is not a folder. */
    private static List<Path> sorted(Path folder, String glob) {
        List<Path> entries = new ArrayList<>();
        if (!Files.isDirectory(folder)) {
            return entries;
        }
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(folder, glob)) {
            stream.forEach(entries::add);
        } catch (IOException e) {
            return entries; // unreadable: nothing found there, and the message lists the place as empty
        }
        entries.sort(null);
        return entries;
    }
}
