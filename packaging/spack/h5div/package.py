# SPDX-License-Identifier: BSD-3-Clause
# Spack recipe of h5div. Use it from a repository of your own:
#   spack repo create myrepo && cp -r packaging/spack/h5div myrepo/packages/
#   spack repo add myrepo
# then build a checkout with `spack dev-build h5div@=main` in it (or `spack develop`).

from spack.package import *


class H5div(CMakePackage):
    """Distances and entropies of histograms stored in HDF5 (KL, Jensen-Shannon, total
    variation, Hellinger, Renyi, Wasserstein and more), evaluated with MPI and parallel HDF5,
    with the same bits on any number of ranks."""

    # No public release archive yet: versions come from a local checkout (spack develop /
    # dev-build); a release adds url/git and version("X.Y.Z", sha256=...) here.
    version("main")

    variant("shared", default=True, description="Build libh5div as a shared library")
    variant("man", default=True, description="Man pages generated with help2man at build time")

    depends_on("c", type="build")
    depends_on("cmake@3.25:", type="build")
    depends_on("mpi")
    depends_on("hdf5+mpi")
    depends_on("gsl")
    depends_on("random123", type="build")
    depends_on("help2man", type="build", when="+man")

    def cmake_args(self):
        return [
            self.define_from_variant("BUILD_SHARED_LIBS", "shared"),
            self.define_from_variant("H5DIV_MAN_PAGES", "man"),
            self.define("H5DIV_BUILD_TESTS", self.run_tests),
            # MPI through the compiler wrapper of the MPI Spack chose.
            self.define("MPI_C_COMPILER", self.spec["mpi"].mpicc),
        ]

    def setup_build_environment(self, env):
        # help2man runs the built h5div; Open MPI refuses to start as root without these.
        env.set("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.set("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
