package io.hashbrick.node;

import static com.tngtech.archunit.core.domain.JavaClass.Predicates.equivalentTo;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The role rules of DESIGN.md ("Inside controller-node"), as far as the code is apart today (issue 16
 * steps a and b, and step c's first part): R's front end reaches D and C only through {@code api}; the
 * contracts depend on no role; C ({@code volume}) and D ({@code data}) never see each other (C reaches D
 * through D's contract, the census in {@code audit} is the one place that reads both). XDP ({@code
 * xdp}: stripes, parity, refill, reconstruction, rebuild, scrub, SSD health) sits under D: D stores its
 * segments through it, and it sees no role above it, nor the front end, C or management; neither the
 * front end nor C reaches it.
 */
class RoleRulesTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importAll() {
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.hashbrick.node");
    }

    @Test
    void theFrontEndSeesTheRolesOnlyThroughTheirContracts() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.node.front..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.hashbrick.node.data..",
                        "io.hashbrick.node.xdp..",
                        "io.hashbrick.node.volume..",
                        "io.hashbrick.node.api.local..",
                        "io.hashbrick.node.api.tcp..",
                        "io.hashbrick.node.mgmt..",
                        "io.hashbrick.sim..",
                        "io.hashbrick.journal..")
                .check(classes);
    }

    /** The TCP binding is the contracts and the JDK (and the event log): no role, no gRPC, no protobuf. */
    @Test
    void theTcpBindingDependsOnTheContractsAndTheJdkOnly() {
        classes()
                .that()
                .resideInAPackage("io.hashbrick.node.api.tcp..")
                .should()
                .onlyDependOnClassesThat(
                        resideInAnyPackage("io.hashbrick.node.api", "io.hashbrick.node.api.tcp..", "java..")
                                .or(equivalentTo(Log.class)))
                .check(classes);
    }

    @Test
    void theContractsDependOnNoRole() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.node.api")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.hashbrick.node.front..",
                        "io.hashbrick.node.data..",
                        "io.hashbrick.node.volume..",
                        "io.hashbrick.node.scsi..",
                        "io.hashbrick.node.iscsi..",
                        "io.hashbrick.node.mgmt..")
                .check(classes);
    }

    /** The cluster map is control plane: it knows no role, and no role reaches Raft (nothing on the I/O path waits for it). */
    @Test
    void theClusterMapIsApartFromTheRoles() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.node.cluster..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.hashbrick.node.front..",
                        "io.hashbrick.node.data..",
                        "io.hashbrick.node.volume..",
                        "io.hashbrick.node.api..",
                        "io.hashbrick.node.scsi..",
                        "io.hashbrick.node.iscsi..")
                .check(classes);
        noClasses()
                .that()
                .resideInAnyPackage(
                        "io.hashbrick.node.front..",
                        "io.hashbrick.node.data..",
                        "io.hashbrick.node.volume..",
                        "io.hashbrick.node.api..",
                        "io.hashbrick.node.scsi..",
                        "io.hashbrick.node.iscsi..")
                .should()
                .dependOnClassesThat()
                .resideInAPackage("org.apache.ratis..")
                .check(classes);
    }

    /**
     * The front end learns the cluster's ports and portals through plain suppliers (ClusterPorts builds
     * them from the map): no SCSI or iSCSI class reads the map or its messages.
     */
    @Test
    void theFrontEndKnowsNoClusterMap() {
        noClasses()
                .that()
                .resideInAnyPackage(
                        "io.hashbrick.node.front..", "io.hashbrick.node.scsi..", "io.hashbrick.node.iscsi..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("io.hashbrick.node.cluster..", "io.hashbrick.proto.cluster..")
                .check(classes);
    }

    @Test
    void dataNeverSeesTheFrontEndNorC() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.node.data..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.hashbrick.node.front..",
                        "io.hashbrick.node.scsi..",
                        "io.hashbrick.node.iscsi..",
                        "io.hashbrick.node.volume..",
                        "io.hashbrick.node.catalog..",
                        "io.hashbrick.node.audit..",
                        "io.hashbrick.node.mgmt..")
                .check(classes);
    }

    /** XDP is below D: it stores what D gives it and knows nothing of blocks' owners, the front end or C. */
    @Test
    void xdpSeesNoRole() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.node.xdp..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.hashbrick.node.data..",
                        "io.hashbrick.node.volume..",
                        "io.hashbrick.node.front..",
                        "io.hashbrick.node.scsi..",
                        "io.hashbrick.node.iscsi..",
                        "io.hashbrick.node.mgmt..",
                        "io.hashbrick.node.catalog..",
                        "io.hashbrick.node.audit..",
                        "io.hashbrick.node.api.local..",
                        "io.hashbrick.node.api.grpc..",
                        "io.hashbrick.node.api.tcp..",
                        "io.hashbrick.node.cluster..")
                .check(classes);
    }

    @Test
    void cNeverSeesDNorTheFrontEnd() {
        noClasses()
                .that()
                .resideInAPackage("io.hashbrick.node.volume..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.hashbrick.node.data..",
                        "io.hashbrick.node.xdp..",
                        "io.hashbrick.node.front..",
                        "io.hashbrick.node.scsi..",
                        "io.hashbrick.node.iscsi..",
                        "io.hashbrick.node.api.local..",
                        "io.hashbrick.node.api.grpc..",
                        "io.hashbrick.node.api.tcp..",
                        "io.hashbrick.node.catalog..",
                        "io.hashbrick.node.audit..",
                        "io.hashbrick.node.mgmt..")
                .check(classes);
    }

    /** The simulation drives the node; nothing of the product depends on it (it only plants through Seams). */
    @Test
    void nothingOfTheProductDependsOnTheSimulation() {
        noClasses()
                .that()
                .resideOutsideOfPackage("io.hashbrick.node.simulation..")
                .should()
                .dependOnClassesThat()
                .resideInAPackage("io.hashbrick.node.simulation..")
                .check(classes);
    }
}
