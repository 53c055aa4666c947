<?xml version="1.0" encoding="utf-8"?>
<!-- Shows an RSS or Atom feed as a page when a person opens it in a browser; feed readers
     ignore it. Written by tidings next to the feeds; the words come from the site's
     language catalog. The copy button's script (feed.js) sits beside this file. Summaries
     are HTML tidings has already cleaned by allowlist; browsers without
     disable-output-escaping (Firefox) show them as text. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"
  exclude-result-prefixes="atom media">
<xsl:output method="html" encoding="utf-8" indent="no"/>
<!-- Where this stylesheet is, as the feed names it (`../../feed.xsl`): feed.js is beside it. -->
<xsl:variable name="here" select="substring-before(substring-after(/processing-instruction('xml-stylesheet'), 'href=&quot;'), 'feed.xsl')"/>
<xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
<xsl:variable name="self" select="(/rss/channel/atom:link[@rel='self'] | /atom:feed/atom:link[@rel='self'])[1]/@href"/>
<xsl:variable name="site" select="(/rss/channel/link | /atom:feed/atom:link[not(@rel) or @rel='alternate'])[1]"/>
<xsl:template match="/">
<html lang="{{ site.language or 'en' }}">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title><xsl:value-of select="$title"/> · {{ p('Feed') }}</title>
<style>
{% include "feed.css" %}</style>
<script src="{$here}feed.js" defer="defer"></script>
</head>
<body>
<main>
<section class="about">
<p><strong>{{ p('This is a web feed.') }}</strong> {{ p('Copy its address into your feed reader to be told of every new post. Opened in a browser, it shows the newest posts below.') }}</p>
<p class="address"><input type="text" readonly="readonly" value="{$self}" aria-label="{{ p('Feed address') }}"/><button type="button" class="copy" data-url="{$self}" data-copied="{{ p('Copied') }}">{{ p('Copy URL') }}</button></p>
</section>
<h1><a href="{$site/@href | $site[not(@href)]}"><xsl:value-of select="$title"/></a></h1>
<xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
</main>
</body>
</html>
</xsl:template>
<xsl:template match="item">
<article>
<h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
<p class="meta"><xsl:call-template name="rss-date"><xsl:with-param name="date" select="pubDate"/></xsl:call-template><xsl:for-each select="category"> · <xsl:value-of select="."/></xsl:for-each></p>
<xsl:if test="media:thumbnail/@url"><img src="{media:thumbnail/@url}" alt="" loading="lazy"/></xsl:if>
<div class="summary"><xsl:value-of select="description" disable-output-escaping="yes"/></div>
</article>
</xsl:template>
<!-- An RSS date (`Sun, 24 Jul 2022 00:55:00 +0800`, written in the site's zone) as the
     Atom page shows its dates: 2022-07-24. -->
<xsl:template name="rss-date">
<xsl:param name="date"/>
<xsl:variable name="d" select="normalize-space(substring-after($date, ','))"/>
<xsl:variable name="rest" select="substring-after($d, ' ')"/>
<xsl:variable name="month" select="substring-before($rest, ' ')"/>
<xsl:variable name="number" select="string-length(substring-before('JanFebMarAprMayJunJulAugSepOctNovDec', $month)) div 3 + 1"/>
<xsl:value-of select="concat(substring(substring-after($rest, ' '), 1, 4), '-', format-number($number, '00'), '-', format-number(substring-before($d, ' '), '00'))"/>
</xsl:template>
<xsl:template match="atom:entry">
<article>
<h2><a href="{atom:link[not(@rel) or @rel='alternate'][1]/@href}"><xsl:value-of select="atom:title"/></a></h2>
<p class="meta"><xsl:value-of select="substring(atom:published | atom:updated[not(../atom:published)], 1, 10)"/><xsl:for-each select="atom:category"> · <xsl:value-of select="@label | @term[not(../@label)]"/></xsl:for-each></p>
<xsl:if test="atom:link[@rel='enclosure']/@href"><img src="{atom:link[@rel='enclosure'][1]/@href}" alt="" loading="lazy"/></xsl:if>
<div class="summary"><xsl:value-of select="atom:summary" disable-output-escaping="yes"/></div>
</article>
</xsl:template>
</xsl:stylesheet>
