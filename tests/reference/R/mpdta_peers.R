# Calls behind tests/reference/mpdta_R_peers_other.json and mpdta_R_did_grid.json (R 4.2.2; did 2.5.1,
# DRDID 1.2.3, BMisc 1.4.8, fixest 0.14.2, didimputation 0.5.0, did2s 1.2.1, bacondecomp 0.1.1,
# staggered 1.2.2, HonestDiD 0.2.6). Written for this repository from the settings each JSON entry records
# (formula, options, seeds); the values in the JSON files are the outputs of these calls as recorded when they
# were produced. This machine has no R, so the script is documentation of the calls, kept beside their outputs.
library(did); library(fixest); library(didimputation); library(did2s); library(bacondecomp)
library(staggered); library(HonestDiD); library(jsonlite)

mpdta <- read.csv("mpdta.csv")                    # identical to did::mpdta; first_treat empty = never treated
mpdta$first.treat <- ifelse(is.na(mpdta$first_treat), 0, mpdta$first_treat)
mpdta$post <- as.integer(mpdta$first.treat > 0 & mpdta$year >= mpdta$first.treat)

## R did grid: xformla x control group x est_method x base period, analytic and bootstrap SEs
grid <- list()
for (xf in c("~1", "~lpop")) for (cg in c("nevertreated", "notyettreated"))
  for (em in c("dr", "ipw", "reg")) for (bp in c("varying", "universal")) for (bs in c(FALSE, TRUE)) {
    set.seed(1234)
    r <- att_gt("lemp", "year", "countyreal", "first.treat", xformla = as.formula(xf), data = mpdta,
                control_group = cg, est_method = em, base_period = bp, bstrap = bs, cband = bs, biters = 1000)
    ag <- lapply(c(simple = "simple", dynamic = "dynamic", group = "group", calendar = "calendar"),
                 function(ty) { set.seed(1234); aggte(r, type = ty, bstrap = bs, cband = bs, biters = 1000) })
    set.seed(1234); ag$dynamic_balance_e1 <- aggte(r, type = "dynamic", balance_e = 1, bstrap = bs, biters = 1000)
    grid[[sprintf("xf_%s__cg_%s__est_%s__base_%s__%s", ifelse(xf == "~1", "none", "lpop"), cg, em, bp,
                  ifelse(bs, "bootstrap", "analytic"))]] <- list(att = r$att, se = r$se, group = r$group, t = r$t,
      crit_val = r$c, n = r$n, wald = r$W, wald_p = r$Wpval,
      aggte = lapply(ag, function(a) list(overall_att = a$overall.att, overall_se = a$overall.se,
                                          e = a$egt, att = a$att.egt, se = a$se.egt)))
  }

## fixest: static TWFE (several SE conventions), with lpop x year, event study, sunab
tw <- feols(lemp ~ post | countyreal + year, mpdta, cluster = ~countyreal)
tw_x <- feols(lemp ~ post + i(year, lpop, ref = 2003) | countyreal + year, mpdta, cluster = ~countyreal)
mpdta$rel <- ifelse(mpdta$first.treat == 0, -1000, mpdta$year - mpdta$first.treat)
es <- feols(lemp ~ i(rel, ref = c(-1, -1000)) | countyreal + year, mpdta, cluster = ~countyreal)
mpdta$g_sunab <- ifelse(mpdta$first.treat == 0, 10000, mpdta$first.treat)
sa <- feols(lemp ~ sunab(g_sunab, year) | countyreal + year, mpdta, cluster = ~countyreal)

## Goodman-Bacon decomposition
bd <- bacon(lemp ~ post, data = mpdta, id_var = "countyreal", time_var = "year")

## Borusyak-Jaravel-Spiess imputation (default first stage ~ 0 | id + year), with lpop x year
imp_static <- did_imputation(mpdta, "lemp", "first.treat", "year", "countyreal")
imp_h <- did_imputation(mpdta, "lemp", "first.treat", "year", "countyreal", horizon = TRUE)
imp_pre <- did_imputation(mpdta, "lemp", "first.treat", "year", "countyreal", horizon = TRUE, pretrends = -4:-1)
imp_x <- did_imputation(mpdta, "lemp", "first.treat", "year", "countyreal",
                        first_stage = ~ 0 | countyreal + year + year[lpop])

## did2s (Gardner): static, event study, lpop x year (analytic GMM-corrected SEs)
mpdta$rel_inf <- ifelse(mpdta$first.treat == 0, Inf, mpdta$year - mpdta$first.treat)
d2_static <- did2s(mpdta, "lemp", ~ 0 | countyreal + year, ~ i(post, ref = FALSE), "post", "countyreal")
d2_es <- did2s(mpdta, "lemp", ~ 0 | countyreal + year, ~ i(rel_inf, ref = c(-1, Inf)), "post", "countyreal")
d2_x <- did2s(mpdta, "lemp", ~ 0 | countyreal + year + year[lpop], ~ i(post, ref = FALSE), "post", "countyreal")

## staggered (Roth & Sant'Anna): efficient, CS and SA estimands; never treated coded Inf
ms <- transform(mpdta, g = ifelse(first.treat == 0, Inf, first.treat))
st <- lapply(c("simple", "cohort", "calendar"), function(ty) list(
  efficient = staggered(ms, "countyreal", "year", "g", "lemp", estimand = ty),
  cs = staggered_cs(ms, "countyreal", "year", "g", "lemp", estimand = ty),
  sa = staggered_sa(ms, "countyreal", "year", "g", "lemp", estimand = ty)))
st_es <- staggered(ms, "countyreal", "year", "g", "lemp", estimand = "eventstudy", eventTime = 0:3)

## HonestDiD on the TWFE event study and on CS (not-yet-treated, universal base), first post period
b <- coef(es)[c("rel::-4", "rel::-3", "rel::-2", "rel::0", "rel::1", "rel::2", "rel::3")]
V <- vcov(es)[names(b), names(b)]
hd_rm <- createSensitivityResults_relativeMagnitudes(b, V, numPrePeriods = 3, numPostPeriods = 4,
                                                     Mbarvec = seq(0, 2, by = 0.5))
hd_sd <- createSensitivityResults(b, V, numPrePeriods = 3, numPostPeriods = 4, Mvec = seq(0, 0.05, by = 0.01))
