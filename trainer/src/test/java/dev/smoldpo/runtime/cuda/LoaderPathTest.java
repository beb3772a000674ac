package dev.smoldpo.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoaderPathTest {
    @Test
    void ldSoConfFollowsIncludesInNameOrderAndSkipsCommentsAndHwcap(@TempDir Path tmp) throws Exception {
        FakeHost host = new FakeHost(tmp);
        host.writeConf("etc/ld.so.conf", """
                # the main file
                /first/lib   # trailing comment
                include ld.so.conf.d/*.conf
                hwcap 0 nosegneg
                /second/a, /second/b:/second/c
                include /nowhere/*.conf
                """);
        host.writeConf("etc/ld.so.conf.d/b.conf", "/from/b\ninclude ../ld.so.conf\n"); // a cycle ends, it does not recurse for ever
        host.writeConf("etc/ld.so.conf.d/a.conf", "/from/a\n");
        host.writeConf("etc/ld.so.conf.d/ignored.txt", "/not/a/conf\n");

        SearchPlace ldconfig = LoaderPath.places(host.layout()).get(1);

        assertEquals(List.of(Path.of("/first/lib"), Path.of("/from/a"), Path.of("/from/b"), Path.of("/second/a"),
                Path.of("/second/b"), Path.of("/second/c")), ldconfig.folders());
    }

    @Test
    void unsetOrMissingConfigurationIsSaidSo(@TempDir Path tmp) throws Exception {
        List<SearchPlace> places = LoaderPath.places(new FakeHost(tmp).layout());
        assertEquals("LD_LIBRARY_PATH (unset)", places.get(0).label());
        assertEquals(tmp.resolve("etc/ld.so.conf") + " (missing)", places.get(1).label());
        assertEquals(List.of(), places.get(2).folders()); // the fake default folder does not exist
    }
}
