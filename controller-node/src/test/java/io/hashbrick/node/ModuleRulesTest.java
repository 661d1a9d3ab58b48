package io.hashbrick.node;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The module dependency rules of DESIGN.md ("Dependencies point one way"), held by ArchUnit. */
class ModuleRulesTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importAll() {
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.hashbrick");
    }

    @Test
    void simulatedHardwareDependsOnNothingOfOurs() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.sim..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.hashbrick.node..",
                        "io.hashbrick.journal..",
                        "io.hashbrick.routing..",
                        "io.hashbrick.proto..")
                .allowEmptyShould(true)
                .check(classes);
    }

    @Test
    void placementDependsOnlyOnTheJdk() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.routing.placement..")
                .should()
                .dependOnClassesThat()
                .resideOutsideOfPackages("java..", "io.hashbrick.routing.placement..")
                .allowEmptyShould(true)
                .check(classes);
    }

    /** Bucket and region arithmetic lives in routing.placement; H2P and A2H call it (no copies of it). */
    @Test
    void h2pAndA2hTakeBucketsAndRegionsFromPlacement() {
        classes()
                .that()
                .haveFullyQualifiedName("io.hashbrick.node.data.H2pHandle")
                .or()
                .haveFullyQualifiedName("io.hashbrick.node.volume.A2hMap")
                .should()
                .dependOnClassesThat()
                .haveFullyQualifiedName("io.hashbrick.routing.placement.Placement")
                .check(classes);
    }

    @Test
    void routingDependsOnlyOnProto() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.routing..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("io.hashbrick.node..", "io.hashbrick.journal..", "io.hashbrick.sim..")
                .allowEmptyShould(true)
                .check(classes);
    }

    @Test
    void journalDependsOnlyOnRoutingAndProto() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.journal..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("io.hashbrick.node..", "io.hashbrick.sim..")
                .allowEmptyShould(true)
                .check(classes);
    }

    @Test
    void protoDependsOnNothingOfOurs() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.proto..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.hashbrick.node..", "io.hashbrick.journal..", "io.hashbrick.sim..", "io.hashbrick.routing..")
                .allowEmptyShould(true)
                .check(classes);
    }
}
