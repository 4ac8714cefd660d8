// Runs many Kafka command-line tools (kafka-acls, kafka-configs, ...) in one JVM: each
// line on standard input is a tool's main class and its arguments, separated by tabs.
// The suite runs the generated deploy/acls/acls.sh with this behind its kafka-*.sh
// commands (hub/brokers/kafka_tools.py): ninety JVM starts would take minutes on 2 cores.
//   java -cp '<kafka libs>/*' ToolBatch.java < commands.tsv
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.InvocationTargetException;
import java.util.Arrays;
import org.apache.kafka.common.utils.Exit;

public class ToolBatch {
    static final class ToolExit extends RuntimeException {
        final int code;
        ToolExit(int code, String message) { super(message); this.code = code; }
    }

    public static void main(String[] args) throws Exception {
        Exit.setExitProcedure((code, message) -> { throw new ToolExit(code, message); });
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        int failed = 0;
        int line = 0;
        for (String text = in.readLine(); text != null; text = in.readLine()) {
            line++;
            if (text.isBlank()) continue;
            String[] parts = text.split("\t");
            int code = 0;
            try {
                Class.forName(parts[0]).getMethod("main", String[].class)
                    .invoke(null, (Object) Arrays.copyOfRange(parts, 1, parts.length));
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                code = cause instanceof ToolExit exit ? exit.code : 1;
                if (!(cause instanceof ToolExit)) cause.printStackTrace();
            }
            if (code != 0) {
                failed++;
                System.err.println("ToolBatch: line " + line + " failed (" + code + "): " + text);
            }
        }
        System.out.flush();
        System.exit(failed == 0 ? 0 : 1);
    }
}
