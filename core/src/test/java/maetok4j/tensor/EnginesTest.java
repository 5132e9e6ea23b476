package maetok4j.tensor;

import com.sun.jna.Library;
import com.sun.jna.Native;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import static org.assertj.core.api.Assertions.assertThat;

class EnginesTest {

    private interface CLibrary extends Library {
        String getenv(String name);
    }

    /** oneDNN reads its limit from the C environment: it must be there, the user's value or ours, after configure. */
    @Test
    @EnabledOnOs(value = OS.LINUX, architectures = {"amd64", "x86_64"})
    void configureLeavesAOneDnnInstructionSetLimitInTheProcessEnvironment() {
        Engines.configure();
        String user = System.getenv(Engines.ONEDNN_ISA_VARIABLE);
        String seen = Native.load("c", CLibrary.class).getenv(Engines.ONEDNN_ISA_VARIABLE);
        assertThat(seen).isEqualTo(user != null ? user : Engines.ONEDNN_ISA);
    }
}
