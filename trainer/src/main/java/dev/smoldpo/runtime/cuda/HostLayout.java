package dev.smoldpo.runtime.cuda;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What the CUDA library search reads from the machine: the environment variables, the loader's
 * configuration file, its default folders, the folder whose {@code * /.venv} environments are
 * searched, and the home folder. {@link #current()} is this machine; tests pass a fake layout.
 *
 * @param env                   environment variables (LD_LIBRARY_PATH, VIRTUAL_ENV, CONDA_PREFIX, PATH)
 * @param ldSoConf              the dynamic loader's configuration, normally /etc/ld.so.conf
 * @param defaultLibraryFolders the folders the loader searches without any configuration
 * @param optRoot               the folder holding application installs, normally /opt
 * @param home                  the user's home folder (for ~/.local user site-packages)
 */
public record HostLayout(Map<String, String> env, Path ldSoConf, List<Path> defaultLibraryFolders, Path optRoot,
                         Path home) {
    /**
     * glibc's trusted folders on x86-64 (lib64 on Red Hat-like systems) and Debian's multiarch
     * folders, which Debian lists in ld.so.conf.d but which are searched on every distribution we target.
     */
    public static final List<Path> LINUX_X86_64_DEFAULT_FOLDERS = List.of(
            Path.of("/lib/x86_64-linux-gnu"), Path.of("/usr/lib/x86_64-linux-gnu"),
            Path.of("/lib64"), Path.of("/usr/lib64"), Path.of("/lib"), Path.of("/usr/lib"));

    public HostLayout {
        env = Map.copyOf(env);
        defaultLibraryFolders = List.copyOf(defaultLibraryFolders);
    }

    /** This machine. */
    public static HostLayout current() {
        return new HostLayout(System.getenv(), Path.of("/etc/ld.so.conf"), LINUX_X86_64_DEFAULT_FOLDERS,
                Path.of("/opt"), Path.of(System.getProperty("user.home")));
    }

    /** The variable's value, or null when it is unset or blank. */
    String variable(String name) {
        String value = env.get(name);
        return value == null || value.isBlank() ? null : value;
    }
}
