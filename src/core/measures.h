/* SPDX-License-Identifier: BSD-3-Clause */
/* What every layer says of a base and of a result's measures (no MPI, no HDF5). */
#ifndef H5DIV_CORE_MEASURES_H
#define H5DIV_CORE_MEASURES_H

#include "h5div_types.h"

/* The most scalar measures one result holds (a result group's datasets, the
 * values of one table or JSON object). */
#define H5DIV_GROUP_MAX_MEASURES 16

/* The name of base b as written in results: "2", "e" or "10". Not collective. */
const char *h5div_base_name(h5div_base b);
/* The units of information in base b: "bits", "nats" or "hartleys". Not
 * collective. */
const char *h5div_base_units(h5div_base b);

/* The columns cols[0..n) of compare that --null gives a p-value, as bits
 * (bit i for cols[i]): every measure, not its parts (a statistic's dof).
 * Not collective. */
uint64_t h5div_compare_tested_columns(const h5div_column *cols, int n);

#endif
