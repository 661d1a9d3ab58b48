package io.hashbrick.sim;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * DESIGN.md "Modules": the simulated hardware depends on nothing of ours, only the JDK. The node's
 * {@code ModuleRulesTest} holds the cross-module rule; this one holds it here, where a change is made.
 * {@code com.sun.nio.file} is the JDK's {@code jdk.unsupported} module ({@code ExtendedOpenOption.DIRECT}).
 */
class JdkOnlyTest {
    @Test
    void simDependsOnlyOnTheJdk() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.sim..")
                .should()
                .dependOnClassesThat()
                .resideOutsideOfPackages("java..", "com.sun.nio.file..", "io.hashbrick.sim..")
                .check(new ClassFileImporter()
                        .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                        .importPackages("io.hashbrick.sim"));
    }
}
