// Prints the wire schema of Kafka messages, every version, from the generated message classes
// of the kafka-clients jar on the classpath: the authority on a field's order and type when the
// JSON definitions at hand are older or newer than the broker under test.
public class Schema {
    public static void main(String[] args) throws Exception {
        for (String name : args) {
            Class<?> c = Class.forName("org.apache.kafka.common.message." + name + "Data");
            Object[] schemas = (Object[]) c.getField("SCHEMAS").get(null);
            for (int v = 0; v < schemas.length; v++) {
                if (schemas[v] != null) {
                    System.out.println(name + " v" + v + ": " + schemas[v]);
                }
            }
        }
    }
}
